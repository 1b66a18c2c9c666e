"""The subscription core's public API: reads, quotes and changes.

Every change: one transaction, the account locked, due period-end effects
applied first, an idempotency key checked (same key and request → the first
receipt, nothing written; same key, other request → ``idempotency_mismatch``),
then the change and its audit record. Refusals raise ``CoreError`` and write
nothing. Quotes compute exactly what a confirm will do, without changing
anything, so a flow can show the numbers first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import attempts, billing, ledger, periods
from core.cases import CaseDesk
from core.clock import Clock, from_ts, to_ts
from core.errors import CoreError
from core.money import Money
from core.payments import PaymentProvider
from core.plans import FREE, Catalog
from core.preferences import UserPreferences
from core.views import (
    AccountView,
    CancelQuote,
    Credits,
    PlanChangeQuote,
    Receipt,
    ResumeQuote,
    ScheduledChange,
)
from storage.db import Database, Tx

CANCEL_REASONS = (
    "too_expensive", "not_using", "missing_features", "results_quality",
    "switching_service", "technical_problems", "taking_break", "other",
)
MAX_COMMENT = 1000
LINK_CODE_TTL = timedelta(minutes=30)
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes


@dataclass(frozen=True)
class CoreSettings:
    max_accounts_per_device: int = 2
    grace: timedelta = timedelta(days=3)
    reminder_days: int = 3


def _request_hash(operation: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([operation, params], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def write_audit(tx: Tx, account_id: str | None, actor: str, action: str, at: datetime,
                      why: str | None = None, key: str | None = None, **details: Any) -> None:
    await tx.execute(
        "INSERT INTO audit_log (id, account_id, actor, action, reason, idempotency_key, details, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ledger.new_id(), account_id, actor, action, why, key, json.dumps(details, sort_keys=True, default=str), to_ts(at),
    )


class SubscriptionCore:
    def __init__(self, db: Database, catalog: Catalog, clock: Clock, payments: PaymentProvider,
                 settings: CoreSettings | None = None) -> None:
        self.db = db
        self.catalog = catalog
        self.clock = clock
        self.payments = payments
        self.settings = settings or CoreSettings()
        self.cases = CaseDesk(self)
        self.users = UserPreferences(db, clock)

    # ----- the change wrapper ---------------------------------------------------

    async def _change(
        self, operation: str, account_id: str, key: str, actor: str, params: dict[str, Any],
        body: Callable[[Tx, dict, datetime], Awaitable[Receipt]], reason: str | None = None,
    ) -> Receipt:
        if not key or len(key) > 255:
            raise CoreError("invalid", "an idempotency key of 1 to 255 characters is required")
        request_hash = _request_hash(operation, {"account": account_id, **params})

        # Re-run whole if the database reports a transient conflict (PostgreSQL).
        async def attempt(tx: Tx) -> Receipt:
            await tx.lock_account(account_id)
            prior = await tx.fetchone("SELECT request_hash, result FROM idempotency_keys WHERE key = ?", key)
            if prior:
                if prior["request_hash"] != request_hash:
                    raise CoreError("idempotency_mismatch", "this key was used for a different request", key=key)
                return Receipt.from_json(prior["result"])
            account = await self._account_row(tx, account_id)
            now = self.clock.now()
            await self._settle(tx, account_id, now)
            receipt = await body(tx, account, now)
            await tx.execute(
                "INSERT INTO idempotency_keys (key, operation, request_hash, result, created_at) VALUES (?, ?, ?, ?, ?)",
                key, operation, request_hash, receipt.to_json(), to_ts(now),
            )
            await write_audit(tx, account_id, actor, operation, now, reason, key, request=params, receipt=receipt.details)
            return receipt

        # Return what a replay returns (the stored form), so a double click gets equal receipts.
        return Receipt.from_json((await self._tx(attempt)).to_json())

    async def _tx(self, fn: Callable[[Tx], Awaitable[Any]], charges: dict | None = None) -> Any:
        """One transaction that may charge: the provider is called between its runs (core/attempts.py).
        ``charges``: provider answers already taken for keys the transaction will need."""
        return await attempts.run_paid(self, fn, charges)

    async def recover_payments(self, older_than: timedelta = timedelta(0)) -> dict[str, int]:
        """Settle payment attempts left pending (a crash, a provider that did not answer) that
        started more than ``older_than`` ago: completed, refunded or failed. Called at start."""
        cutoff = int(datetime.now().timestamp() - older_than.total_seconds())
        async with self.db.read() as tx:
            pending = await tx.fetchall(
                "SELECT * FROM payment_attempts WHERE status IN ('pending', 'refunding') AND started_at <= ? "
                "ORDER BY started_at", cutoff)
        return await attempts.recover(self, pending)

    async def _account_row(self, tx: Tx, account_id: str) -> dict:
        row = await tx.fetchone("SELECT * FROM accounts WHERE id = ?", account_id)
        if not row:
            raise CoreError("not_found", "no such account", account=account_id)
        return row

    async def _settle(self, tx: Tx, account_id: str, now: datetime) -> periods.SettleCounts:
        return await periods.settle(tx, self.catalog, self.payments, account_id, now, self.settings.grace)

    # ----- accounts and links ---------------------------------------------------

    async def create_account(self, email: str, *, key: str, device_id: str | None = None,
                             discord_id: str | None = None, plan: str = FREE, actor: str = "signup") -> AccountView:
        email = (email or "").strip().lower()
        if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
            raise CoreError("invalid", f"not an email address: {email!r}")
        self.catalog.plan(plan)
        if device_id is not None and not device_id.strip():
            raise CoreError("invalid", "the device id is empty")
        params = {"email": email, "device": device_id, "discord": discord_id, "plan": plan}
        request_hash = _request_hash("create_account", params)

        async def replay(tx: Tx) -> str | None:
            prior = await tx.fetchone("SELECT request_hash, result FROM idempotency_keys WHERE key = ?", key)
            if prior and prior["request_hash"] != request_hash:
                raise CoreError("idempotency_mismatch", "this key was used for a different request", key=key)
            return Receipt.from_json(prior["result"]).account_id if prior else None

        # Two processes signing up the same key or email at once: the loser's
        # unique violation re-runs this, which then replays or refuses.
        async def attempt(tx: Tx) -> str:
            if (done := await replay(tx)) is not None:
                return done
            try:
                return await self._create_account(tx, email, device_id, discord_id, plan, key, actor, request_hash)
            except CoreError as exc:
                # Each statement sees the latest commit (PostgreSQL's READ COMMITTED): the
                # same sign-up may have committed after the key was read. Replay it then.
                if exc.code in ("already_exists", "already_linked") and (done := await replay(tx)) is not None:
                    return done
                raise

        account_id = await self._tx(attempt)
        return await self.snapshot(account_id)

    async def _create_account(self, tx: Tx, email: str, device_id: str | None, discord_id: str | None,
                              plan_id: str, key: str, actor: str, request_hash: str) -> str:
        now = self.clock.now()
        if await tx.fetchone("SELECT id FROM accounts WHERE email = ?", email):
            raise CoreError("already_exists", f"an account with {email} already exists", email=email)
        if discord_id and await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", discord_id):
            raise CoreError("already_linked", "this Discord user is linked to another account")
        restricted, why = 0, None
        if device_id:
            # Count this sign-up on the device's row: the upsert locks the row until commit, so
            # concurrent sign-ups from one device (any process) get 1, 2, 3…, never the same count.
            await tx.execute(
                "INSERT INTO devices (device_id, accounts_created) VALUES (?, 1) ON CONFLICT (device_id) "
                "DO UPDATE SET accounts_created = devices.accounts_created + 1", device_id)
            row = await tx.fetchone("SELECT accounts_created FROM devices WHERE device_id = ?", device_id)
            count = row["accounts_created"] - 1  # the accounts created before this one
            if count >= self.settings.max_accounts_per_device:
                restricted = 1
                why = f"device {device_id} already created {count} accounts (limit {self.settings.max_accounts_per_device})"
        account_id = ledger.new_id()
        await tx.execute(
            "INSERT INTO accounts (id, email, device_id, discord_id, restricted, restriction_reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            account_id, email, device_id, discord_id, restricted, why, to_ts(now),
        )
        details: dict[str, Any] = {"restricted": bool(restricted)}
        if plan_id != FREE:
            plan = self.catalog.plan(plan_id)
            sub_id, invoices, _ = await periods.start_subscription(tx, account_id, plan, now, f"signup:{key}", self.payments)
            details.update(subscription=sub_id, invoices=invoices)
        receipt = Receipt("create_account", account_id, now, plan_id, details=details)
        await tx.execute(
            "INSERT INTO idempotency_keys (key, operation, request_hash, result, created_at) VALUES (?, ?, ?, ?, ?)",
            key, "create_account", request_hash, receipt.to_json(), to_ts(now),
        )
        await write_audit(tx, account_id, actor, "create_account", now, why, key, email=email, device=device_id, plan=plan_id)
        return account_id

    async def find_account(self, ref: str) -> AccountView | None:
        """By email, Discord user id or account id."""
        ref = (ref or "").strip()
        async with self.db.read() as tx:
            row = await tx.fetchone(
                "SELECT id FROM accounts WHERE email = ? OR discord_id = ? OR id = ?", ref.lower(), ref, ref,
            )
        return await self.snapshot(row["id"]) if row else None

    async def account_for_discord(self, discord_id: str) -> AccountView | None:
        async with self.db.read() as tx:
            row = await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", str(discord_id))
            view = await self.view_if_settled(tx, row["id"]) if row else None
        if row and view is None:
            view = await self._settled_snapshot(row["id"])
        return view

    async def issue_link_code(self, account_id: str, *, key: str, actor: str = "operator") -> tuple[str, datetime]:
        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(8))
            expires = now + LINK_CODE_TTL
            await tx.execute("INSERT INTO link_codes (code, account_id, expires_at) VALUES (?, ?, ?)", code, account_id, to_ts(expires))
            return Receipt("link_code", account_id, now, await self._plan_id(tx, account_id), access_until=expires, details={"code": code})

        receipt = await self._change("link_code", account_id, key, actor, {}, body)
        return receipt.details["code"], receipt.access_until

    async def link_discord(self, code: str, discord_id: str, *, key: str) -> AccountView:
        code = (code or "").strip().upper().replace("-", "").replace(" ", "")
        async with self.db.read() as tx:
            row = await tx.fetchone("SELECT account_id FROM link_codes WHERE code = ?", code)
        if not row:
            raise CoreError("code_invalid", "this link code is unknown")

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            link = await tx.fetchone("SELECT * FROM link_codes WHERE code = ?", code)
            if link["used_at"] is not None:
                raise CoreError("code_invalid", "this link code was already used")
            if link["expires_at"] <= to_ts(now):
                raise CoreError("code_invalid", "this link code has expired")
            await self._link(tx, account, str(discord_id))
            await tx.execute("UPDATE link_codes SET used_at = ?, used_by = ? WHERE code = ?", to_ts(now), str(discord_id), code)
            return Receipt("link", account["id"], now, await self._plan_id(tx, account["id"]), details={"discord": str(discord_id)})

        await self._change("link", row["account_id"], key, f"discord:{discord_id}", {"code": code, "discord": str(discord_id)}, body)
        return await self.snapshot(row["account_id"])

    async def admin_link(self, account_id: str, discord_id: str, *, key: str, actor: str, reason: str) -> Receipt:
        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            await self._link(tx, account, str(discord_id))
            return Receipt("admin_link", account["id"], now, await self._plan_id(tx, account["id"]), details={"discord": str(discord_id)})

        return await self._change("admin_link", account_id, key, actor, {"discord": str(discord_id)}, body, reason)

    async def _link(self, tx: Tx, account: dict, discord_id: str) -> None:
        other = await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", discord_id)
        if other and other["id"] != account["id"]:
            raise CoreError("already_linked", "this Discord user is linked to another account")
        if account["discord_id"] and account["discord_id"] != discord_id:
            raise CoreError("already_linked", "this account is linked to another Discord user")
        await tx.execute("UPDATE accounts SET discord_id = ?, version = version + 1 WHERE id = ?", discord_id, account["id"])

    # ----- reads ----------------------------------------------------------------

    async def snapshot(self, account_id: str) -> AccountView:
        """The account as of now, with due period-end effects applied first."""
        async with self.db.read() as tx:
            view = await self.view_if_settled(tx, account_id)
        return view if view is not None else await self._settled_snapshot(account_id)

    async def view_if_settled(self, tx: Tx, account_id: str) -> AccountView | None:
        """The account as of now, read in ``tx``; None when period-end effects or lapsed credits
        are due, which only a write transaction may apply (``snapshot`` does). Most reads find
        nothing due, so they take no write lock."""
        account = await self._account_row(tx, account_id)
        now = self.clock.now()
        sub = await periods.live_subscription(tx, account_id)
        if periods.is_due(sub, now) or await ledger.has_lapsed(tx, account_id, now):
            return None
        return await self._view(tx, account, now, sub)

    async def _settled_snapshot(self, account_id: str) -> AccountView:
        async def attempt(tx: Tx) -> AccountView:
            await tx.lock_account(account_id)
            account = await self._account_row(tx, account_id)
            now = self.clock.now()
            await self._settle(tx, account_id, now)
            return await self._view(tx, account, now)

        return await self._tx(attempt)

    async def _plan_id(self, tx: Tx, account_id: str) -> str:
        sub = await periods.live_subscription(tx, account_id)
        return sub["plan"] if sub else FREE

    def _daily_free(self, account: dict, sub: dict | None) -> int:
        if sub or account["restricted"]:
            return 0
        return self.catalog.plan(FREE).daily_free_credits

    async def _view(self, tx: Tx, account: dict, now: datetime, sub: dict | None = None) -> AccountView:
        """``sub``: the live subscription, if the caller has just read it in this transaction."""
        sub = sub or await periods.live_subscription(tx, account["id"])
        daily = self._daily_free(account, sub)
        free, subscription, sub_expiry, topup = await ledger.balances(tx, account["id"], now, daily)
        blocked = None
        if sub:
            blocked = "paid_plan"
        elif account["restricted"]:
            blocked = "restricted"
        elif free == 0 and self.catalog.plan(FREE).daily_free_credits > 0:
            blocked = "used_today"
        scheduled = None
        next_at = next_amount = None
        if sub:
            if sub["scheduled_plan"]:
                scheduled = ScheduledChange(sub["scheduled_plan"], sub["scheduled_kind"], from_ts(sub["period_end"]))
            if not sub["cancel_at_period_end"]:
                billed = self.catalog.plan(sub["scheduled_plan"] or sub["plan"])
                next_at = from_ts(sub["next_due_at"] if sub["status"] == "past_due" else sub["period_end"])
                next_amount = billed.price
        return AccountView(
            account_id=account["id"], email=account["email"], discord_id=account["discord_id"],
            plan=sub["plan"] if sub else FREE, status=sub["status"] if sub else "free",
            subscription_id=sub["id"] if sub else None,
            period_start=from_ts(sub["period_start"]) if sub else None,
            period_end=from_ts(sub["period_end"]) if sub else None,
            cancel_at_period_end=bool(sub and sub["cancel_at_period_end"]),
            cancel_reason=sub["cancel_reason"] if sub else None,
            scheduled_change=scheduled,
            credits=Credits(free, subscription, sub_expiry, topup),
            restricted=bool(account["restricted"]), restriction_reason=account["restriction_reason"],
            next_billing_at=next_at, next_billing_amount=next_amount,
            grace_until=from_ts(sub["grace_until"]) if sub and sub["grace_until"] else None,
            free_credits_blocked_by=blocked,
        )

    async def invoices(self, account_id: str, limit: int = 10):
        await self.snapshot(account_id)  # a renewal that fell due is charged before it is listed
        async with self.db.read() as tx:
            found = await tx.fetchall(
                "SELECT * FROM invoices WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?", account_id, limit,
            )
        return [billing.invoice_view(r) for r in found]

    async def audit_trail(self, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
        async with self.db.read() as tx:
            found = await tx.fetchall(
                "SELECT actor, action, reason, idempotency_key, details, created_at FROM audit_log "
                "WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?", account_id, limit,
            )
        return [{**r, "created_at": from_ts(r["created_at"]), "details": json.loads(r["details"])} for r in found]

    # ----- cancel and resume ----------------------------------------------------

    def _cancel_check(self, sub: dict | None) -> None:
        if not sub:
            raise CoreError("no_subscription", "there is no paid subscription to cancel")
        if sub["cancel_at_period_end"]:
            raise CoreError("already_cancelled", "auto-renewal is already cancelled", access_until=from_ts(sub["period_end"]))
        if sub["scheduled_kind"] == "upgrade":
            raise CoreError("change_pending", "an upgrade is scheduled for the end of the period; cancel that change first",
                            plan=sub["scheduled_plan"], effective_at=from_ts(sub["period_end"]))

    async def quote_cancel(self, account_id: str) -> CancelQuote:
        view = await self.snapshot(account_id)
        async with self.db.read() as tx:
            sub = await periods.live_subscription(tx, account_id)
        self._cancel_check(sub)
        dropped = view.scheduled_change if view.scheduled_change and view.scheduled_change.kind == "downgrade" else None
        # Past due: the paid period is over already, so cancelling ends it now (see cancel).
        access_until = self.clock.now() if view.status == "past_due" else view.period_end
        return CancelQuote(view.plan, access_until, view.credits.subscription, view.credits.topup, dropped)

    async def cancel(self, account_id: str, reason: str, comment: str | None = None, *, key: str, actor: str = "user") -> Receipt:
        if reason not in CANCEL_REASONS:
            raise CoreError("invalid", f"unknown cancellation reason {reason!r}", reason=reason)
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise CoreError("invalid", f"the comment is longer than {MAX_COMMENT} characters", limit=MAX_COMMENT)

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            sub = await periods.live_subscription(tx, account_id)
            self._cancel_check(sub)
            dropped = sub["scheduled_plan"]
            await tx.execute(
                "UPDATE subscriptions SET cancel_at_period_end = 1, cancel_reason = ?, cancel_comment = ?, cancelled_at = ?, "
                "scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
                reason, comment, to_ts(now), sub["id"],
            )
            access_until = from_ts(sub["period_end"])
            if sub["status"] == "past_due":
                # The paid period has ended and only the grace retries remain: stopping
                # future billing stops them, so the subscription ends now (no retry charges).
                await periods.end_subscription(tx, sub, now, "cancelled")
                access_until = now
            _, subscription, _, topup = await ledger.balances(tx, account_id, now, 0)
            return Receipt("cancel", account_id, now, sub["plan"], access_until=access_until,
                           credits=subscription, balance=topup,
                           details={"reason": reason, "dropped_change": dropped, "subscription_credits": subscription, "topup_credits": topup})

        return await self._change("cancel", account_id, key, actor, {"reason": reason, "comment": comment}, body, reason)

    async def quote_resume(self, account_id: str, plan: str | None = None) -> ResumeQuote:
        view = await self.snapshot(account_id)
        if view.subscription_id:
            if not view.cancel_at_period_end:
                raise CoreError("not_cancelled", "auto-renewal is already on", next_billing_at=view.next_billing_at)
            price = self.catalog.plan(view.plan).price
            return ResumeQuote("resume", view.plan, view.period_end, price, Money(price.currency, 0))
        target = self.catalog.plan(plan or await self._last_plan(account_id) or "basic")
        if target.is_free:
            raise CoreError("invalid", "choose a paid plan to subscribe to")
        start = self.clock.now()
        _, end = periods.period_bounds(start, 0, target)
        return ResumeQuote("resubscribe", target.id, end, target.price, target.price)

    async def _last_plan(self, account_id: str) -> str | None:
        async with self.db.read() as tx:
            row = await tx.fetchone(
                "SELECT plan FROM subscriptions WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", account_id,
            )
        return row["plan"] if row else None

    async def resume(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        """Remove a scheduled cancellation; after the period ended, ``already_ended`` (resubscribe)."""

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            sub = await periods.live_subscription(tx, account_id)
            if not sub:
                last = await tx.fetchone(
                    "SELECT plan, ended_at FROM subscriptions WHERE account_id = ? ORDER BY created_at DESC LIMIT 1", account_id,
                )
                if last:
                    raise CoreError("already_ended", "the subscription has ended; subscribe again instead",
                                    plan=last["plan"], ended_at=from_ts(last["ended_at"]))
                raise CoreError("no_subscription", "there is no subscription to resume")
            if not sub["cancel_at_period_end"]:
                raise CoreError("not_cancelled", "auto-renewal is already on", next_billing_at=from_ts(sub["period_end"]))
            await tx.execute(
                "UPDATE subscriptions SET cancel_at_period_end = 0, cancel_reason = NULL, cancel_comment = NULL, "
                "cancelled_at = NULL WHERE id = ?", sub["id"],
            )
            plan = self.catalog.plan(sub["plan"])
            return Receipt("resume", account_id, now, plan.id, next_billing_at=from_ts(sub["period_end"]),
                           next_billing_amount=plan.price, details={"subscription": sub["id"]})

        return await self._change("resume", account_id, key, actor, {}, body)

    # ----- plan changes -----------------------------------------------------------

    async def quote_plan_change(self, account_id: str, plan: str, timing: str = "now") -> PlanChangeQuote:
        await self.snapshot(account_id)
        async with self.db.read() as tx:
            return await self._quote_change(tx, account_id, plan, timing, self.clock.now())

    async def _quote_change(self, tx: Tx, account_id: str, plan_id: str, timing: str, now: datetime) -> PlanChangeQuote:
        if timing not in ("now", "end"):
            raise CoreError("invalid", "timing must be now or end", timing=timing)
        target = self.catalog.plan(plan_id)
        sub = await periods.live_subscription(tx, account_id)
        zero = Money(self.catalog.currency, 0)
        if not sub:
            if target.is_free:
                raise CoreError("same_plan", "the account is already on the Free plan", plan=FREE)
            _, end = periods.period_bounds(now, 0, target)
            return PlanChangeQuote("subscribe", FREE, target.id, target.price, zero, now, end, target.credits, 0,
                                   None, end, target.price, now)
        if sub["cancel_at_period_end"]:
            raise CoreError("resume_first", "auto-renewal is cancelled; resume it before changing plan",
                            access_until=from_ts(sub["period_end"]))
        if sub["status"] == "past_due":
            raise CoreError("past_due", "the last renewal payment failed; update the payment first",
                            grace_until=from_ts(sub["grace_until"]))
        current = self.catalog.plan(sub["plan"])
        if target.id == current.id:
            raise CoreError("same_plan", f"the account is already on {current.name}", plan=current.id)
        if target.id == sub["scheduled_plan"]:
            raise CoreError("same_plan", f"a change to {target.name} is already scheduled", plan=target.id)
        replaces = ScheduledChange(sub["scheduled_plan"], sub["scheduled_kind"], from_ts(sub["period_end"])) if sub["scheduled_plan"] else None
        period_end = from_ts(sub["period_end"])
        upgrade = self.catalog.is_upgrade(current, target)
        if target.is_free:
            raise CoreError("invalid", "to move to Free, cancel auto-renewal instead")
        if upgrade and timing == "now":
            start, length = sub["period_start"], sub["period_end"] - sub["period_start"]
            unused = max(0, sub["period_end"] - to_ts(now))
            # old price × unused seconds / period seconds, rounded half up to the minor unit
            credit = (2 * current.price.minor * unused + length) // (2 * length)
            credit = min(credit, current.price.minor)
            charge = Money(target.price.currency, max(0, target.price.minor - credit))
            _, end = periods.period_bounds(now, 0, target)
            _, subscription, _, _ = await ledger.balances(tx, account_id, now, 0)
            del start
            return PlanChangeQuote("upgrade_now", current.id, target.id, charge, Money(current.price.currency, credit),
                                   now, end, target.credits, subscription, replaces, end, target.price, now)
        if not upgrade and timing == "now":
            raise CoreError("immediate_downgrade", "a downgrade takes effect at the end of the period")
        kind = "upgrade_end" if upgrade else "downgrade"
        return PlanChangeQuote(kind, current.id, target.id, zero, zero, period_end, None, target.credits, 0,
                               replaces, period_end, target.price, now)

    async def change_plan(self, account_id: str, plan: str, timing: str = "now", *, key: str,
                          quote: PlanChangeQuote | None = None, actor: str = "user") -> Receipt:
        """Subscribe (from Free), upgrade now or at period end, or downgrade at period end.

        With ``quote``, the numbers the user saw are honoured if nothing else
        changed since; otherwise ``quote_expired`` asks the flow to show new ones.
        """
        params = {"plan": plan, "timing": timing}
        if quote:
            params["quoted"] = [quote.kind, quote.charge_now.minor, quote.proration_credit.minor, to_ts(quote.quoted_at)]

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            fresh = await self._quote_change(tx, account_id, plan, timing, now)
            use = fresh
            if quote:
                sub = await periods.live_subscription(tx, account_id)
                same_period = sub is None or quote.quoted_at >= from_ts(sub["period_start"])
                if not same_period or (quote.kind, quote.from_plan, quote.to_plan, quote.replaces) != (
                        fresh.kind, fresh.from_plan, fresh.to_plan, fresh.replaces):
                    raise CoreError("quote_expired", "the account changed since this summary was shown")
                use = quote
            return await self._apply_change(tx, account_id, use, now, key)

        return await self._change("change_plan", account_id, key, actor, params, body)

    async def _apply_change(self, tx: Tx, account_id: str, q: PlanChangeQuote, now: datetime, key: str) -> Receipt:
        target = self.catalog.plan(q.to_plan)
        if q.kind == "subscribe":
            sub_id, invoices, end = await periods.start_subscription(tx, account_id, target, now, f"subscribe:{key}", self.payments)
            return Receipt("subscribe", account_id, now, target.id, charged=target.price, next_billing_at=end,
                           next_billing_amount=target.price, credits=target.credits, invoice_ids=tuple(invoices),
                           details={"subscription": sub_id})
        sub = await periods.live_subscription(tx, account_id)
        if q.kind == "upgrade_now":
            forfeited = await ledger.expire_subscription_credits(tx, account_id, now, "expire", "upgrade")
            start, end = periods.period_bounds(now, 0, target)
            invoices = await billing.charge(tx, self.payments, account_id, q.charge_now, f"upgrade:{key}", now,
                                            kind="upgrade", subscription_id=sub["id"], plan=target.id, period=(start, end))
            await tx.execute(
                "UPDATE subscriptions SET plan = ?, cycle_anchor = ?, cycle_index = 0, period_start = ?, period_end = ?, "
                "next_due_at = ?, scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
                target.id, to_ts(now), to_ts(start), to_ts(end), to_ts(end), sub["id"],
            )
            await periods.grant_allowance(tx, account_id, sub["id"], target, start, end, source=f"upgrade:{key}")
            return Receipt("upgrade_now", account_id, now, target.id, charged=q.charge_now, proration_credit=q.proration_credit,
                           next_billing_at=end, next_billing_amount=target.price, credits=target.credits,
                           invoice_ids=tuple(invoices), details={"from": q.from_plan, "forfeited": forfeited,
                                                                 "replaced": q.replaces.plan if q.replaces else None})
        kind = "upgrade" if q.kind == "upgrade_end" else "downgrade"
        await tx.execute("UPDATE subscriptions SET scheduled_plan = ?, scheduled_kind = ? WHERE id = ?", target.id, kind, sub["id"])
        return Receipt(q.kind, account_id, now, q.from_plan, access_until=q.starts_at, next_billing_at=q.starts_at,
                       next_billing_amount=target.price, credits=target.credits,
                       details={"to": target.id, "replaced": q.replaces.plan if q.replaces else None})

    async def cancel_scheduled_change(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            sub = await periods.live_subscription(tx, account_id)
            if not sub or not sub["scheduled_plan"]:
                raise CoreError("no_change_pending", "no plan change is scheduled")
            await tx.execute("UPDATE subscriptions SET scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?", sub["id"])
            plan = self.catalog.plan(sub["plan"])
            return Receipt("cancel_change", account_id, now, plan.id, next_billing_at=from_ts(sub["period_end"]),
                           next_billing_amount=plan.price, details={"dropped": sub["scheduled_plan"]})

        return await self._change("cancel_change", account_id, key, actor, {}, body)

    async def admin_change_plan(self, account_id: str, plan: str, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's immediate change, up or down, without a charge; to Free ends the subscription now."""
        target = self.catalog.plan(plan)

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            sub = await periods.live_subscription(tx, account_id)
            if target.is_free:
                if not sub:
                    raise CoreError("same_plan", "the account is already on the Free plan", plan=FREE)
                await periods.end_subscription(tx, sub, now, "moderator")
                return Receipt("admin_change_plan", account_id, now, FREE, details={"from": sub["plan"]})
            if not sub:
                _sub_id, invoices, end = await periods.start_subscription(
                    tx, account_id, target, now, f"admin:{key}", self.payments, charge_amount=Money(target.price.currency, 0))
                return Receipt("admin_change_plan", account_id, now, target.id, next_billing_at=end,
                               next_billing_amount=target.price, invoice_ids=tuple(invoices), details={"from": FREE})
            if sub["plan"] == target.id:
                raise CoreError("same_plan", f"the account is already on {target.name}", plan=target.id)
            await ledger.expire_subscription_credits(tx, account_id, now, "expire", "moderator_change")
            await tx.execute("UPDATE subscriptions SET plan = ?, scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?", target.id, sub["id"])
            start, end = now, from_ts(sub["period_end"])
            await periods.grant_allowance(tx, account_id, sub["id"], target, start, end, source=f"admin:{key}")
            return Receipt("admin_change_plan", account_id, now, target.id, next_billing_at=end,
                           next_billing_amount=target.price, details={"from": sub["plan"]})

        return await self._change("admin_change_plan", account_id, key, actor, {"plan": plan}, body, reason)

    # ----- credits --------------------------------------------------------------------

    async def buy_topup(self, account_id: str, bundle: str, *, key: str, actor: str = "user") -> Receipt:
        chosen = self.catalog.bundle(bundle)

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            bucket = await ledger.grant(tx, account_id, "topup", chosen.credits, f"topup:{key}", now, None)
            invoices = await billing.charge(tx, self.payments, account_id, chosen.price, f"topup:{key}", now,
                                            kind="topup", bundle=chosen.id, bucket_id=bucket)
            view = await self._view(tx, account, now)
            return Receipt("topup", account_id, now, view.plan, charged=chosen.price, credits=chosen.credits,
                           balance=view.credits.total, invoice_ids=tuple(invoices), details={"bundle": chosen.id, "topup_balance": view.credits.topup})

        return await self._change("topup", account_id, key, actor, {"bundle": bundle}, body)

    async def spend_credits(self, account_id: str, amount: int, *, key: str, ref: str = "usage", actor: str = "product") -> Receipt:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise CoreError("invalid", "the amount of credits must be a whole number above zero", amount=amount)

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            sub = await periods.live_subscription(tx, account_id)
            await ledger.ensure_free_bucket(tx, account_id, self._daily_free(account, sub), now)
            taken = await ledger.spend(tx, account_id, amount, now, ref)
            view = await self._view(tx, account, now)
            return Receipt("spend", account_id, now, view.plan, credits=amount, balance=view.credits.total,
                           details={"taken": taken})

        return await self._change("spend", account_id, key, actor, {"amount": amount, "ref": ref}, body)

    async def adjust_credits(self, account_id: str, delta: int, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's grant (a never-expiring bucket) or removal (in spending order)."""
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise CoreError("invalid", "the amount of credits must be a whole number other than zero", amount=delta)
        if not (reason or "").strip():
            raise CoreError("invalid", "a reason is required")

        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            if delta > 0:
                await ledger.grant(tx, account_id, "topup", delta, f"grant:{key}", now, None, ref=f"moderator:{actor}")
            else:
                sub = await periods.live_subscription(tx, account_id)
                await ledger.ensure_free_bucket(tx, account_id, self._daily_free(account, sub), now)
                await ledger.spend(tx, account_id, -delta, now, f"moderator:{actor}")
            view = await self._view(tx, account, now)
            return Receipt("adjust_credits", account_id, now, view.plan, credits=delta, balance=view.credits.total)

        return await self._change("adjust_credits", account_id, key, actor, {"delta": delta}, body, reason)

    async def review_restriction(self, account_id: str, lift: bool, *, key: str, actor: str, reason: str) -> Receipt:
        async def body(tx: Tx, account: dict, now: datetime) -> Receipt:
            if lift and not account["restricted"]:
                raise CoreError("invalid", "this account is not restricted")
            if lift:
                await tx.execute("UPDATE accounts SET restricted = 0, restriction_reason = NULL, version = version + 1 WHERE id = ?", account_id)
            return Receipt("review_restriction", account_id, now, await self._plan_id(tx, account_id),
                           details={"lifted": lift, "was": account["restriction_reason"]})

        return await self._change("review_restriction", account_id, key, actor, {"lift": lift}, body, reason)

    # ----- due work -----------------------------------------------------------------------

    async def sweep(self, limit: int = 1000):
        """Apply what fell due across all accounts, in batches; returns what was done."""
        from core.sweep import run_sweep

        return await run_sweep(self, limit)
