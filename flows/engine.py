"""The flow engine: starts flows, routes presses to them, and answers support questions.

The contract with the adapters is the ``Screen`` each call returns (what a screen must
hold is checked for every screen the tests see: ``tests/flow_helpers.checked``). For every press:

1. The stored flow is loaded; a stranger's press, a stale step, an expired
   flow or a finished one is answered with a notice and changes nothing.
2. The flow's pure ``step`` runs; the effects it returns are carried out
   through flows.runner and their outcomes fed back, until it answers.
3. Before a final confirmation reaches the core, the flow is *claimed* for
   that press (compare-and-swap on ``version``), so a different button pressed
   at the same moment cannot also advance it. The same button pressed twice
   runs the same idempotent core call with the same key and gets the same
   receipt; whichever press stores the result, the other is shown it as a
   notice. A later press of the button that finished a flow is shown its
   last screen (the same receipt) again.
4. The new state is stored by compare-and-swap. Nothing is kept in memory, so
   a restart, or another process, continues where the flow was.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from core.clock import from_ts
from core.views import AccountView
from flows import cancel, credits, help, plan, refund, reminder, resume, scheduled_change, topup
from flows.answers import answer_reply, did_you_mean_reply, small_talk_reply
from flows.effects import Effect
from flows.limits import StartLimit
from flows.machine import HOLD_UNTIL, INTERNAL, Event, Facts, FlowState, Notice, Stale
from flows.ports import Core
from flows.replies import M, Reply
from flows.reply_codec import reply_from_json, reply_to_json
from flows.runner import run_effect
from flows.status import status_reply
from flows.store import FlowStore, new_flow_id
from flows.telemetry import FlowObserver, IgnoreFlows, note_expired, note_turn
from flows.texts import busy, expired, not_linked, not_owner
from storage.db import Database

FLOWS: dict[str, ModuleType] = {m.KIND: m for m in (cancel, resume, plan, scheduled_change, topup, credits, reminder, help,
                                                      refund)}
ONE_SHOT = ("status",)
KINDS = (*FLOWS, *ONE_SHOT)

# Engine bookkeeping in flow data (underscore keys never reach moderators' case context).
PRESS = "_press"  # [step, action] of the press that last advanced the flow
CLAIM = "_claim"  # [step, action] of a final confirmation in progress
FINAL = "_final"  # the flow has shown its last screen
SHOWN = "_reply"  # the screen the flow last showed (reopening a form, a late second press)
MAX_EFFECTS = 8  # a flow that asks for more effects than this in one press has a loop
TOO_FAST = M("You're starting conversations faster than I can keep up. Nothing was changed; please wait a minute and try again.")


@dataclass(frozen=True)
class Screen:
    flow_id: str | None  # None for one-shot screens that are not a stored flow
    kind: str
    step: str
    reply: Reply
    owner: str
    notice: bool = False  # answer the presser alone; leave the flow's message as it is
    owed: bool = False  # the turn owed a message (a receipt, a moderators' post): deliver it now


class _Lost(Exception):
    """Another press advanced the flow between our read and our write."""


class _Turn:
    """One press (or start) of one flow: runs step() and its effects, claiming before a confirm."""

    def __init__(self, engine: FlowEngine, module: ModuleType, read: FlowState | None, facts: Facts,
                 now: datetime, press: list[str] | None) -> None:
        self.engine, self.module, self.read, self.facts, self.now, self.press = engine, module, read, facts, now, press
        self.claimed = bool(read and press and read.data.get(CLAIM) == press)
        self.mutated = False
        self.confirmed = False  # a confirming effect ran: the account read may be out of date
        self.owed = False  # an effect may have owed the moderators a post

    def _own(self, state: FlowState) -> bool:
        account = self.facts.account
        return account is not None and account.account_id == state.account_id

    async def run(self, state: FlowState, event: Event) -> tuple[FlowState, Any]:
        state, outputs = self.module.step(state, event, self.now)
        queue, answer, effects = deque(outputs), None, 0
        while queue:
            out = queue.popleft()
            if not isinstance(out, Effect):
                answer = out
                continue
            effects += 1
            if effects > MAX_EFFECTS:
                raise RuntimeError(f"flow {state.kind} asked for more than {MAX_EFFECTS} effects in one press")
            if out.confirms:
                await self._claim()
                self.confirmed = True
            # The press's account read serves a quote until a confirmation may have changed it.
            seen = self.facts.account if not self.confirmed and self._own(state) else None
            result, error = await run_effect(self.engine.core, self.engine.db, state, out, seen)
            self.mutated = self.mutated or (out.confirms and error is None)
            self.owed = self.owed or (out.owes_post and error is None)
            state, more = self.module.step(state, Event(out.then, self.facts, result=result, error=error), self.now)
            queue.extendleft(reversed(more))
        if answer is None:
            raise RuntimeError(f"flow {state.kind} gave no answer at step {state.step}")
        return state, answer

    async def _claim(self) -> None:
        if self.claimed or self.read is None:
            return
        stored = await self.engine.store.advance(self.read, self.read.with_data(**{CLAIM: self.press}), self.now)
        if stored is None:
            raise _Lost()
        self.read, self.claimed = stored, True


class FlowEngine:
    observer: FlowObserver = IgnoreFlows()  # told of starts, ends and product events (flows/telemetry.py)

    def __init__(self, core: Core, db: Database, timeout: timedelta = timedelta(minutes=15),
                 starts: StartLimit | None = None, moderators: bool = True) -> None:
        """``starts``: the per-user limit on new flows, in real time (flows/limits.py).
        ``moderators``: whether requests for a moderator reach one (the bot has MOD_CHANNEL_ID)."""
        self.core = core
        self.db = db  # where flows are kept (the composition root's; the core's own is the core's business)
        self.timeout = timeout
        self.store = FlowStore(db)
        self.starts = starts or StartLimit()
        self.moderators = moderators

    # ----- the adapters' calls ------------------------------------------------------

    async def start(self, kind: str, owner: str, args: dict | None = None) -> Screen:
        """Start a flow of ``kind`` for ``owner`` (a Discord user id as str; the console uses "console:NAME")."""
        if kind not in KINDS:
            raise ValueError(f"unknown flow kind {kind!r}; expected one of {', '.join(KINDS)}")
        owner = str(owner)
        account = await self.core.account_for_discord(owner)
        if account is None and kind != help.KIND:
            return Screen(None, kind, "not_linked", not_linked(kind), owner)
        facts = self._facts(account)
        if kind == "status":
            return Screen(None, kind, "status", status_reply(facts), owner)
        if kind != reminder.KIND and not self.starts.allow(owner):
            return Screen(None, kind, "too_fast", Reply((TOO_FAST,), final=True), owner, notice=True)
        now = self.core.clock.now()
        fresh = FlowState(new_flow_id(), owner, account.account_id if account else None, kind, "start",
                          dict(args or {}), 0, now + self.timeout, now, now)
        turn = _Turn(self, FLOWS[kind], None, facts, now, None)
        state, answer = await turn.run(fresh, Event("open", facts))
        if isinstance(answer, Stale):
            raise TypeError(f"flow {kind} answered its start with {answer!r}")
        reply = answer.reply if isinstance(answer, Notice) else answer
        note_turn(self.observer, kind, None, state, reply.final)
        if reply.final:  # refused at once: nothing to come back to, so nothing is stored
            return Screen(None, kind, state.step, reply, owner, owed=turn.owed)
        await self.store.create(self._finish(state, reply, None, now))
        return Screen(state.id, kind, state.step, reply, owner, owed=turn.owed)

    async def handle(self, flow_id: str, step: str, actor: str, action: str,
                     value: str | None = None, fields: dict[str, str] | None = None,
                     receipt_by_dm: bool = False) -> Screen:
        """A button press, a select choice (``value``) or a submitted form (``fields``) on a stored flow.

        ``receipt_by_dm``: a result that carries a receipt is also owed to the user by DM (the
        adapter says so when the flow runs in a server, where its screen is ephemeral); the DM
        is recorded with the step (``core.outbox``) and the bot's delivery loop sends it."""
        press = [step, action]
        for _ in range(3):
            try:
                return await self._press(flow_id, press, str(actor), value, fields, receipt_by_dm)
            except _Lost:
                continue  # another press claimed the flow first: look again at where it is now
        flow = await self.store.load(flow_id)
        return self._notice(flow, busy()) if flow else Screen(flow_id, "unknown", step, expired(None), str(actor), notice=True)

    async def current(self, flow_id: str, step: str, actor: str) -> Screen:
        """The flow's screen as it stands, changing nothing: what a form is reopened from."""
        now = self.core.clock.now()
        flow, refused = await self._load(flow_id, step, actor, now)
        if refused:
            return refused
        return Screen(flow.id, flow.kind, flow.step, reply_from_json(flow.data[SHOWN]), flow.owner)

    async def _load(self, flow_id: str, step: str, actor: str, now: datetime) -> tuple[FlowState | None, Screen | None]:
        return self._check(await self.store.load(flow_id), flow_id, step, actor, now)

    def _check(self, flow: FlowState | None, flow_id: str, step: str, actor: str, now: datetime,
               press: list[str] | None = None, resend: bool = False) -> tuple[FlowState | None, Screen | None]:
        """The flow if this actor may act on it at this step now; else the notice to answer."""
        if flow is None or flow.kind not in FLOWS:
            return None, Screen(flow_id, flow.kind if flow else "unknown", step, expired(None), actor, notice=True)
        if actor != flow.owner:
            return None, self._notice(flow, not_owner(flow.kind))
        claim = flow.data.get(CLAIM)
        if step != flow.step or flow.data.get(FINAL) or (press and press[1].startswith(INTERNAL)):
            if press and flow.data.get(FINAL) and flow.data.get(PRESS) == press:
                # The button that finished the flow, pressed again: the same result, changing nothing.
                return None, self._notice(flow, reply_from_json(flow.data[SHOWN]))
            if resend and press and flow.data.get(PRESS) == press and now < flow.expires_at:
                # The button that last advanced the flow, pressed again: its answer never reached
                # the user (Discord failed the callback). Show where the flow is, changing nothing.
                return None, Screen(flow.id, flow.kind, flow.step, reply_from_json(flow.data[SHOWN]), flow.owner)
            return None, self._notice(flow, expired(flow.kind))
        if now >= flow.expires_at and (press is None or claim != press):  # a claimed confirm may always finish
            if press:
                note_expired(self.observer, flow.kind)
            return None, self._notice(flow, expired(flow.kind))
        if claim and claim != press:
            return None, self._notice(flow, busy())
        return flow, None

    async def _press(self, flow_id: str, press: list[str], actor: str, value: str | None,
                     fields: dict[str, str] | None, receipt_by_dm: bool = False) -> Screen:
        step, action = press
        now = self.core.clock.now()
        # The flow and its account in one read: most presses find nothing due on the account.
        async with self.db.read() as tx:
            loaded = await self.store.load_in(tx, flow_id)
            account = None
            if loaded and loaded.account_id and loaded.owner == actor:
                account = await self.core.view_if_settled(tx, loaded.account_id)
        flow, refused = self._check(loaded, flow_id, step, actor, now, press, resend=value is None and fields is None)
        if refused:
            return refused
        shown = reply_from_json(flow.data[SHOWN])
        if fields is None and shown.form is not None and shown.form.action == action:
            # The button that opens the form, not its submission: show the step (its form) again.
            return Screen(flow.id, flow.kind, flow.step, shown, flow.owner)
        if account is None and flow.account_id:  # due period-end work: applied by a snapshot first
            account = await self.core.snapshot(flow.account_id)
        facts = self._facts(account)
        turn = _Turn(self, FLOWS[flow.kind], flow, facts, now, press)
        state, answer = await turn.run(flow, Event(action, facts, value, dict(fields or {})))
        if isinstance(answer, Stale):
            return self._notice(flow, expired(flow.kind))
        if isinstance(answer, Notice) and not turn.claimed:
            return replace(self._notice(flow, answer.reply), owed=turn.owed)
        notice = isinstance(answer, Notice)
        reply = answer.reply if notice else answer
        # A notice leaves the step's screen as it was; only the claim is released.
        owed = None
        if receipt_by_dm and reply.receipt and not notice:
            owed = {"key": f"receipt:{flow.id}", "kind": "receipt", "recipient": flow.owner,
                    "payload": {"reply": reply_to_json(reply)}, "now": int(time.time())}
        stored = await self.store.advance(turn.read, self._finish(state, None if notice else reply, press, now), now,
                                          owed)
        if stored is None:
            return await self._lost(flow_id, press, reply, turn.mutated)
        if not notice:
            note_turn(self.observer, flow.kind, flow.step, stored, reply.final)
        return Screen(flow.id, flow.kind, stored.step, reply, flow.owner, notice=notice,
                      owed=turn.owed or owed is not None)

    async def answer(self, intent: str, owner: str, personal: bool = True) -> Screen:
        """The answer to a recognised question. ``personal``: with the asker's own account facts (a DM);
        without, for a public channel: the rule, and buttons that show each presser their own."""
        owner = str(owner)
        account = await self.core.account_for_discord(owner) if personal else None
        reply = answer_reply(intent, self._facts(account), self.core.clock.now(), personal)
        return Screen(None, "answer", intent, reply, owner)

    def small_talk(self, kind: str, owner: str) -> Screen:
        """A short friendly answer to a greeting or thanks (``locales.small_talk``)."""
        return Screen(None, "answer", kind, small_talk_reply(kind), str(owner))

    def did_you_mean(self, intents: tuple[str, ...], owner: str) -> Screen:
        """ "Did you mean…?" with these questions as buttons, likeliest first."""
        return Screen(None, "answer", "ask", did_you_mean_reply(intents), str(owner))

    async def purge_expired(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete flows that expired more than ``older_than`` ago (a late press then reads as expired anyway)."""
        return await self.store.purge(self.core.clock.now() - older_than)

    # ----- helpers --------------------------------------------------------------------

    def _facts(self, account: AccountView | None) -> Facts:
        return Facts(self.core.catalog, account, self.core.settings.max_accounts_per_device, self.moderators)

    def _finish(self, state: FlowState, reply: Reply | None, press: list[str] | None, now: datetime) -> FlowState:
        """The state to store after a press: bookkeeping updated, the screen shown, expiry pushed on."""
        data = {k: v for k, v in state.data.items() if k != CLAIM}
        if press:
            data[PRESS] = press
        if reply is not None:
            data[SHOWN] = reply_to_json(reply)
            if reply.final:
                data[FINAL] = True
        expires = now + self.timeout
        if HOLD_UNTIL in data:
            expires = max(expires, from_ts(data[HOLD_UNTIL]))
        return replace(state, data=data, expires_at=expires)

    def _notice(self, flow: FlowState, reply: Reply) -> Screen:
        # A notice never carries the receipt flag: the one receipt DM went with the result itself.
        return Screen(flow.id, flow.kind, flow.step, replace(reply, receipt=False), flow.owner, notice=True)

    async def _lost(self, flow_id: str, press: list[str], reply: Reply, mutated: bool) -> Screen:
        """Our result lost the race to be stored: show it anyway if the same press won or ours changed the account."""
        current = await self.store.load(flow_id)
        if current is None:
            return Screen(flow_id, "unknown", press[0], expired(None), "", notice=True)
        if mutated or press in (current.data.get(PRESS), current.data.get(CLAIM)):
            return self._notice(current, reply)
        return self._notice(current, expired(current.kind))
