"""Driving flows in tests the way a user drives them: start, press, choose, submit.

``World`` wraps a FlowEngine on the ``core`` fixture's database (tests/conftest.py)
with one linked user. Screens are read as a user reads them: the English text
(``text``) and the controls (``actions``). ``what_the_core_holds`` is the
account plus the row counts a change would move, so "nothing changed" is one
comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.service import SubscriptionCore
from core.views import AccountView
from flows.engine import FlowEngine, Screen
from locales import render
from tests.conftest import Keys, table_counts

TIMEOUT = timedelta(minutes=15)
OWNER = "1001"
STRANGER = "2002"
# Rows a change or a moderator case would add; flows rows come and go with every press.
CHANGE_TABLES = ("subscriptions", "credit_buckets", "credit_entries", "invoices", "cases", "idempotency_keys", "audit_log")


@dataclass
class World:
    core: SubscriptionCore
    engine: FlowEngine
    account_id: str
    owner: str = OWNER

    @classmethod
    async def open(cls, core: SubscriptionCore, keys: Keys, plan: str = "plus", topup: str | None = "credits_500",
                   owner: str = OWNER, device: str | None = None) -> World:
        account = await core.create_account(f"{owner}@example.com", key=keys("signup"), discord_id=owner, plan=plan,
                                            device_id=device)
        if topup:
            await core.buy_topup(account.account_id, topup, key=keys("topup"))
        return cls(core, FlowEngine(core, core.db, TIMEOUT), account.account_id, owner)

    def restarted(self) -> World:
        """A new engine on the same database, as after a bot restart or in another process."""
        return World(self.core, FlowEngine(self.core, self.core.db, TIMEOUT), self.account_id, self.owner)

    async def start(self, kind: str) -> Screen:
        return checked(await self.engine.start(kind, self.owner))

    async def press(self, screen: Screen, action: str, *, actor: str | None = None) -> Screen:
        """Press the button with this action on ``screen`` (it must be there)."""
        assert action in actions(screen), f"no {action!r} button on {screen.step}: {actions(screen)}"
        if action.startswith("start:"):
            return checked(await self.engine.start(action.removeprefix("start:"), actor or self.owner))
        return checked(await self.engine.handle(screen.flow_id, screen.step, actor or self.owner, action))

    async def choose(self, screen: Screen, value: str, *, actor: str | None = None) -> Screen:
        select = screen.reply.select
        assert select is not None and value in [o.value for o in select.options], f"cannot choose {value!r}"
        return checked(await self.engine.handle(screen.flow_id, screen.step, actor or self.owner, select.action,
                                                value=value))

    async def submit(self, screen: Screen, **fields: str) -> Screen:
        form = screen.reply.form
        assert form is not None, f"no form on {screen.step}"
        return checked(await self.engine.handle(screen.flow_id, screen.step, self.owner, form.action, fields=fields))

    async def what_the_core_holds(self) -> tuple[AccountView, dict[str, int]]:
        account = await self.core.snapshot(self.account_id)  # first: a read settles what fell due
        counts = await table_counts(self.core.db)
        return account, {t: counts[t] for t in CHANGE_TABLES}

    async def invoices(self) -> list:
        return await self.core.invoices(self.account_id, limit=100)


def checked(screen: Screen) -> Screen:
    """What the Discord adapter relies on (flows/engine.py's docstring), for every screen a test sees."""
    reply = screen.reply
    buttons = [b.action for b in reply.buttons]
    # A button whose action is the form's is the button that opens it (flows/replies.py): one control.
    controls = buttons + [c.action for c in (reply.select, reply.form) if c and c.action not in buttons]
    assert len(controls) == len(set(controls)), f"two controls share an action: {controls}"
    for action in controls:
        assert action.startswith("start:") or ":" not in action, action
        assert len(action) <= 24 and len(screen.step) <= 24, (screen.step, action)
    if screen.flow_id is None or reply.final:  # nothing to route back to: only buttons that start flows
        assert reply.select is None and reply.form is None, screen.step
        assert all(b.action.startswith("start:") for b in reply.buttons), (screen.step, controls)
    return screen


def text(screen: Screen) -> str:
    # Babel puts a narrow no-break space before AM/PM; a plain one reads the same in a test.
    return "\n".join(render(m, "en") for m in screen.reply.lines).replace("\u202f", " ")


def actions(screen: Screen) -> list[str]:
    return [b.action for b in screen.reply.buttons]


def labels(screen: Screen) -> list[str]:
    return [render(b.label, "en") for b in screen.reply.buttons]


def options(screen: Screen) -> list[str]:
    return [o.value for o in screen.reply.select.options] if screen.reply.select else []


async def audit_actions(core: SubscriptionCore, account_id: str) -> list[str]:
    return [row["action"] for row in await core.audit_trail(account_id, limit=100)]
