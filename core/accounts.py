"""Accounts: sign-up (with the device limit), Discord links, and the review of a restriction.

A device may create ``max_accounts_per_device`` accounts; the ones after are created
restricted (no daily free credits) until a moderator lifts it. A Discord user links to one
account, by a one-time code the account's owner gets, or by a moderator.
"""

from __future__ import annotations

import secrets
from typing import Any

from core import idempotency, ledger, periods
from core.audit import write_audit
from core.clock import to_ts
from core.errors import CoreError
from core.plans import FREE
from core.reads import Reads
from core.rules import LINK_ALPHABET, LINK_CODE_TTL
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import AccountView, Receipt
from storage.db import Tx


def _email(raw: str | None) -> str:
    email = (raw or "").strip().lower()
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise CoreError("invalid", f"not an email address: {email!r}")
    return email


class Accounts:
    def __init__(self, work: UnitOfWork, reads: Reads) -> None:
        self.work = work
        self.reads = reads

    async def create_account(self, email: str, *, key: str, device_id: str | None = None,
                             discord_id: str | None = None, plan: str = FREE, actor: str = "signup") -> AccountView:
        email = _email(email)
        self.work.catalog.plan(plan)
        if device_id is not None and not device_id.strip():
            raise CoreError("invalid", "the device id is empty")
        hashed = idempotency.request_hash("create_account", {"email": email, "device": device_id,
                                                              "discord": discord_id, "plan": plan})

        async def replayed(tx: Tx) -> str | None:
            stored = idempotency.replay(await idempotency.prior(tx, key), hashed, key)
            return Receipt.from_json(stored).account_id if stored is not None else None

        # Two processes signing up the same key or email at once: the loser's unique
        # violation re-runs this, which then replays or refuses.
        async def attempt(tx: Tx) -> str:
            if (done := await replayed(tx)) is not None:
                return done
            try:
                return await self._create(tx, email, device_id, discord_id, plan, key, actor, hashed)
            except CoreError as exc:
                # Each statement sees the latest commit (PostgreSQL's READ COMMITTED): the
                # same sign-up may have committed after the key was read. Replay it then.
                if exc.code in ("already_exists", "already_linked") and (done := await replayed(tx)) is not None:
                    return done
                raise

        idempotency.check_key(key)
        account_id = await self.work.paid(attempt)
        return await self.reads.snapshot(account_id)

    async def _create(self, tx: Tx, email: str, device_id: str | None, discord_id: str | None,
                      plan_id: str, key: str, actor: str, hashed: str) -> str:
        now = self.work.clock.now()
        limit = self.work.settings.max_accounts_per_device
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
            if count >= limit:
                restricted = 1
                why = f"device {device_id} already created {count} accounts (limit {limit})"
        account_id = ledger.new_id()
        await tx.write(
            "INSERT INTO accounts (id, email, device_id, discord_id, restricted, restriction_reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            account_id, email, device_id, discord_id, restricted, why, to_ts(now),
        )
        details: dict[str, Any] = {"restricted": bool(restricted)}
        if plan_id != FREE:
            plan = self.work.catalog.plan(plan_id)
            sub_id, invoices, _ = await periods.start_subscription(tx, account_id, plan, now, f"signup:{key}")
            details.update(subscription=sub_id, invoices=invoices)
        receipt = Receipt("create_account", account_id, now, plan_id, details=details)
        await idempotency.remember(tx, key, "create_account", hashed, receipt.to_json(), now)
        await write_audit(tx, account_id, actor, "create_account", now, why, key, email=email, device=device_id, plan=plan_id)
        return account_id

    async def issue_link_code(self, account_id: str, *, key: str, actor: str = "operator") -> tuple[str, Any]:
        async def body(change: Change) -> Receipt:
            code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(8))
            expires = change.now + LINK_CODE_TTL
            await change.tx.write("INSERT INTO link_codes (code, account_id, expires_at) VALUES (?, ?, ?)",
                                  code, account_id, to_ts(expires))
            return Receipt("link_code", account_id, change.now, change.state.plan, access_until=expires,
                           details={"code": code})

        receipt = await self.work.run(Command("link_code", account_id, key, actor, {}), body)
        return receipt.details["code"], receipt.access_until

    async def link_discord(self, code: str, discord_id: str, *, key: str) -> AccountView:
        code = (code or "").strip().upper().replace("-", "").replace(" ", "")
        async with self.work.db.read() as tx:
            row = await tx.fetchone("SELECT account_id FROM link_codes WHERE code = ?", code)
        if not row:
            raise CoreError("code_invalid", "this link code is unknown")

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
            link = await tx.fetchone("SELECT * FROM link_codes WHERE code = ?", code)
            if link["used_at"] is not None:
                raise CoreError("code_invalid", "this link code was already used")
            if link["expires_at"] <= to_ts(now):
                raise CoreError("code_invalid", "this link code has expired")
            await self._link(tx, change.account, str(discord_id))
            await tx.write("UPDATE link_codes SET used_at = ?, used_by = ? WHERE code = ?", to_ts(now), str(discord_id), code)
            return Receipt("link", change.account["id"], now, change.state.plan, details={"discord": str(discord_id)})

        command = Command("link", row["account_id"], key, f"discord:{discord_id}", {"code": code, "discord": str(discord_id)})
        await self.work.run(command, body)
        return await self.reads.snapshot(row["account_id"])

    async def admin_link(self, account_id: str, discord_id: str, *, key: str, actor: str, reason: str) -> Receipt:
        async def body(change: Change) -> Receipt:
            await self._link(change.tx, change.account, str(discord_id))
            return Receipt("admin_link", account_id, change.now, change.state.plan, details={"discord": str(discord_id)})

        return await self.work.run(Command("admin_link", account_id, key, actor, {"discord": str(discord_id)}, reason), body)

    @staticmethod
    async def _link(tx: Tx, account: dict, discord_id: str) -> None:
        other = await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", discord_id)
        if other and other["id"] != account["id"]:
            raise CoreError("already_linked", "this Discord user is linked to another account")
        if account["discord_id"] and account["discord_id"] != discord_id:
            raise CoreError("already_linked", "this account is linked to another Discord user")
        await tx.write("UPDATE accounts SET discord_id = ?, version = version + 1 WHERE id = ?", discord_id, account["id"])

    async def review_restriction(self, account_id: str, lift: bool, *, key: str, actor: str, reason: str) -> Receipt:
        async def body(change: Change) -> Receipt:
            if lift and not change.account["restricted"]:
                raise CoreError("invalid", "this account is not restricted")
            if lift:
                await change.tx.write("UPDATE accounts SET restricted = 0, restriction_reason = NULL, "
                                      "version = version + 1 WHERE id = ?", account_id)
            return Receipt("review_restriction", account_id, change.now, change.state.plan,
                           details={"lifted": lift, "was": change.account["restriction_reason"]})

        return await self.work.run(Command("review_restriction", account_id, key, actor, {"lift": lift}, reason), body)
