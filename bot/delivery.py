"""The delivery loop: sends what the outbox says the bot owes (core/outbox.py).

Every bot process runs it. Each round claims due rows (a lease, so two processes never send
the same row at once), renders each in the recipient's language at the time of sending, and
sends it (by DM, or to the moderators' channel) with the row's nonce (Discord's ``enforce_nonce``): if the process dies after
Discord accepted a message but before the row was marked sent, the retry shows the first
copy instead of a second one.

- Sent: marked sent.
- 403 (the user's DMs are closed, or the bot is blocked): marked undeliverable, not retried.
- 5xx, 429, a network error or a timeout: retried, the gap growing from 2 seconds to 5
  minutes; after 24 hours the row is given up (expired) with a log line. Whatever the gap, a
  message goes out within about 30 seconds of Discord coming back: every 30 seconds the next
  waiting row is tried early (a probe), and as soon as one send works, every waiting row is
  due at once.

A round runs every ``interval`` seconds, and at once when this process owes something new
(``poke``); on start it also picks up whatever was owed while no bot was running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import discord

import locales
from bot.language import LanguagePicker
from bot.render import NO_MENTIONS, Rendered, content_of, render_reply
from core import outbox
from core.cases import MODERATORS
from flows.replies import M
from flows.reply_codec import reply_from_json

log = logging.getLogger(__name__)

UNDELIVERED = M("This message could not reach you: your DMs are closed to me. Here it is:")

# Seconds before the next attempt, by how many attempts failed so far; the last repeats.
BACKOFF = (2, 5, 10, 20, 30, 30, 30, 30, 60, 120, 300)
GIVE_UP_AFTER = 24 * 3600
# Seconds a claimed row stays ours: longer than a send (with discord.py's own retries of
# some 5xx answers, up to 25 s); a process that died lets its rows go after this.
LEASE = 30
DEFAULT_INTERVAL = 5.0  # seconds between rounds when nothing pokes the loop
PROBE_EVERY = 30.0  # seconds between early tries of a waiting row: is Discord back?


def retry_delay(failed_attempts: int, backoff: tuple[float, ...] = BACKOFF) -> float:
    return backoff[min(failed_attempts, len(backoff) - 1)]


class Delivery:
    def __init__(self, client: discord.Client, app, engine, picker: LanguagePicker,
                 interval: float = DEFAULT_INTERVAL, backoff: tuple[float, ...] = BACKOFF,
                 probe_every: float = PROBE_EVERY) -> None:
        self.client = client
        self.app = app
        self.engine = engine
        self.picker = picker
        self.interval = interval
        self.backoff = backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.probe_every = probe_every
        self._last_probe = time.monotonic()
        # Kinds rendered elsewhere (a refund decision: bot/cases.py), from the row's payload.
        self._renderers: dict[str, Callable[[dict], Awaitable[Rendered]]] = {}
        self._held: dict[str, outbox.Owed] = {}  # claimed by this process, not yet marked

    def add_renderer(self, kind: str, render: Callable[[dict], Awaitable[Rendered]]) -> None:
        self._renderers[kind] = render

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._held:
            # Rows this process claimed but did not finish go back at once, for the next
            # process (a restart) rather than after their lease.
            await outbox.release(self.app.core.db, list(self._held))
            self._held.clear()

    def poke(self) -> None:
        """Something new is owed: deliver now rather than at the next round."""
        self._wake.set()

    async def _run(self) -> None:
        await self.client.wait_until_ready()
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                # A round that failed (database busy) must not end the loop.
                log.exception("outbox delivery round failed; trying again next round")
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    async def deliver_due(self) -> int:
        """One round: claim what is due and send it; how many were sent."""
        db = self.app.core.db
        if time.monotonic() - self._last_probe >= self.probe_every:
            self._last_probe = time.monotonic()
            await outbox.probe(db, int(time.time()))
        sent = 0
        while claimed := await outbox.claim(db, int(time.time()), LEASE):
            self._held.update((owed.id, owed) for owed in claimed)
            worked = 0
            for owed in claimed:
                worked += await self._deliver(owed)
                self._held.pop(owed.id, None)
            sent += worked
            # Discord took a message: the ones waiting for a retry need not wait any longer.
            if not (worked and await outbox.wake(db, int(time.time()))) and len(claimed) < 20:
                break
        return sent

    async def _deliver(self, owed: outbox.Owed) -> bool:
        db = self.app.core.db
        try:
            channel = await self._channel(owed)
            if channel is None:  # owed to the moderators' channel, and none is set up; or to a console user
                why = "no MOD_CHANNEL_ID" if owed.recipient == MODERATORS else "not a Discord user (console)"
                await outbox.mark_undeliverable(db, owed, int(time.time()), why)
                return False
            rendered = await self._render(owed)
            kwargs = {"view": rendered.view} if rendered.view is not None else {}
            await channel.send(rendered.content, nonce=owed.nonce, allowed_mentions=NO_MENTIONS, **kwargs)
        except (discord.Forbidden, discord.NotFound) as exc:
            # A user's closed DMs (or a blocked bot); a moderators' channel deleted or closed to us.
            log.info("%s %s for %s not delivered (Discord %s, code %s)",
                     owed.kind, owed.id, owed.recipient, exc.status, exc.code)
            await outbox.mark_undeliverable(db, owed, int(time.time()), f"{exc.status} {exc.code}")
            return False
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._retry_later(owed, exc)
            return False
        except Exception as exc:
            # Our own failure (rendering it, the database): logged, and retried like Discord's,
            # so one bad row never holds up the others.
            log.exception("%s %s could not be prepared", owed.kind, owed.id)
            await self._retry_later(owed, exc)
            return False
        await outbox.mark_sent(db, owed, int(time.time()))
        return True

    async def _retry_later(self, owed: outbox.Owed, exc: BaseException) -> None:
        db = self.app.core.db
        now = int(time.time())
        why = f"{type(exc).__name__}: {exc}"
        if now - owed.created_at >= GIVE_UP_AFTER:
            log.error("%s %s for user %s given up after 24 hours: %s", owed.kind, owed.id, owed.recipient, why)
            await outbox.mark_expired(db, owed, now, why)
            return
        delay = retry_delay(owed.attempts, self.backoff)
        log.warning("%s %s for user %s not sent (%s); next attempt in %g s", owed.kind, owed.id,
                    owed.recipient, why, delay)
        await outbox.mark_retry(db, owed, now + max(1, round(delay)), why)

    async def tell_undelivered(self, interaction: discord.Interaction) -> None:
        """After answering a user's command: the DMs that could not reach them (closed DMs),
        shown privately, once, in their language now."""
        user = str(interaction.user.id)
        for owed in await outbox.untold(self.app.core.db, user):
            if owed.recipient == MODERATORS or owed.kind not in ("receipt", "reminder", "refund_decision"):
                continue
            if not await outbox.mark_told(self.app.core.db, owed, int(time.time())):
                continue
            rendered = await self._render(owed)
            note = locales.render(UNDELIVERED)
            await interaction.followup.send(f"{note}\n\n{rendered.content}"[:2000], ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)

    async def _channel(self, owed: outbox.Owed):
        if owed.recipient == MODERATORS:
            channel_id = self.app.settings.mod_channel_id
            if not channel_id:
                return None
            return self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        if not owed.recipient.isdecimal():  # "console:NAME" (bot/console.py): nobody on Discord to DM
            return None
        return await self.client.create_dm(discord.Object(int(owed.recipient)))

    async def _render(self, owed: outbox.Owed) -> Rendered:
        """The message in the recipient's language now (their choice may have changed since);
        the moderators' channel has its own (bot/moderation.py)."""
        if owed.recipient != MODERATORS:
            await self.picker.bind_user(owed.recipient)
        if owed.kind == "receipt":
            # A copy of the result the user saw: its words only, the buttons stay on the result.
            return Rendered(content_of(reply_from_json(owed.payload["reply"])), None)
        if owed.kind == "reminder":
            screen = await self.engine.start("reminder", owed.recipient, dict(owed.payload))
            return render_reply(screen.reply, screen.flow_id, screen.step)
        if owed.kind in self._renderers:
            return await self._renderers[owed.kind](owed.payload)
        raise ValueError(f"unknown outbox kind {owed.kind!r}")
