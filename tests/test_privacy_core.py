"""Forgetting a Discord user on request (core/privacy.py), on both backends.

After it, no value in any column of any table holds their Discord id or a free text they
wrote; invoices, the ledger and the audit trail are all still there; other users are
untouched; it happened in one transaction with one audit record holding no id; and a
double click or a second request changes nothing more.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from core import privacy, privacy_scan
from core.errors import CoreError
from tests.privacy_support import count_rows, markers, rows_holding, someone_with_data_everywhere

ALICE = "512345678901234567"
BOB = "612345678901234568"
MARKERS = markers("alice")
COMMENT, _, HELP_NOTE, _ = MARKERS


async def audit_ids(core) -> set[str]:
    async with core.db.read() as tx:
        return {r["id"] for r in await tx.fetchall("SELECT id FROM audit_log")}


async def forget_audits(core) -> list[dict]:
    async with core.db.read() as tx:
        return await tx.fetchall(
            "SELECT account_id, actor, reason, idempotency_key, details FROM audit_log WHERE action = ?",
            privacy.OPERATION)


async def test_what_we_keep_lists_the_link_preferences_conversations_and_requests(core):
    nothing = await core.what_we_keep(ALICE)
    assert not nothing.anything and nothing.email is None
    await someone_with_data_everywhere(core, ALICE, "alice")
    kept = await core.what_we_keep(ALICE)
    assert kept.email == "a***@example.com"
    assert (kept.language, kept.recent_language, kept.reminders) == ("fa", "fa", True)
    assert kept.conversations == 1 and kept.requests == 2 and kept.open_requests == 1
    assert kept.messages == 1  # the refund decision owed by DM
    assert kept.texts == 3  # the cancellation comment, the refund details, the help note
    assert kept.anything


async def test_forgetting_leaves_no_id_and_no_free_text_anywhere_and_keeps_the_books(core):
    alice = await someone_with_data_everywhere(core, ALICE, "alice")
    bob = await someone_with_data_everywhere(core, BOB, "bob")
    assert await rows_holding(core.db, ALICE) and all([await rows_holding(core.db, m) for m in MARKERS])
    books, audit_before = await count_rows(core.db), await audit_ids(core)
    bobs_before = await rows_holding(core.db, BOB)

    done = await core.forget_discord_user(ALICE, actor="moderator:42", reason="asked by email", key="forget:1")

    assert done.rows > 0 and not done.replayed
    assert await rows_holding(core.db, ALICE) == []
    for marker in MARKERS:
        assert await rows_holding(core.db, marker) == [], marker
    # The books: every invoice, ledger row and audit record is still there (one audit more).
    after = await count_rows(core.db)
    assert after == {**books, "audit_log": books["audit_log"] + 1}
    assert audit_before < await audit_ids(core)
    async with core.db.read() as tx:
        account = await tx.fetchone("SELECT email, discord_id FROM accounts WHERE id = ?", alice.account_id)
        invoice = await tx.fetchone("SELECT account_id FROM invoices WHERE id = ?", alice.invoice_id)
        actors = {r["actor"] for r in await tx.fetchall(
            "SELECT actor FROM audit_log WHERE account_id = ?", alice.account_id)}
        cases = await tx.fetchall("SELECT kind, status, discord_id, details, context FROM cases "
                                  "WHERE account_id = ? ORDER BY kind", alice.account_id)
    assert account == {"email": "alice@example.com", "discord_id": None}
    assert invoice == {"account_id": alice.account_id}
    assert "discord:forgotten" in actors and "moderator:42" in actors
    assert [(c["kind"], c["status"], c["discord_id"], c["details"]) for c in cases] == [
        ("help", "open", None, None), ("refund", "denied", None, None)]
    assert json.loads(cases[0]["context"]) == {"kind": "cancel", "step": "comment", "topic": "help"}
    # The mod-log line naming her still goes out, without her.
    assert any("@forgotten" in v for _, _, v in await rows_holding(core.db, "granted 5 credits"))
    # Bob is untouched.
    assert await rows_holding(core.db, BOB) == bobs_before
    assert all([await rows_holding(core.db, m) for m in markers("bob")])
    assert (await core.what_we_keep(BOB)).texts == 3
    assert bob.account_id and not (await core.what_we_keep(ALICE)).anything

    [record] = await forget_audits(core)
    assert (record["account_id"], record["actor"], record["reason"], record["idempotency_key"]) == (
        alice.account_id, "moderator:42", "asked by email", "forget:1")
    details = json.loads(record["details"])
    assert details["rows"] == done.rows and details["tables"]["discord_users"] == 1
    assert set(details) == {"rows", "tables"}  # counts only: no id, no hash of one


async def test_a_user_forgetting_themselves_is_recorded_as_forgotten(core):
    await someone_with_data_everywhere(core, ALICE, "alice")
    await core.forget_discord_user(ALICE, actor=f"discord:{ALICE}", reason=None, key="privacy:abc")
    [record] = await forget_audits(core)
    assert record["actor"] == "discord:forgotten" and record["reason"] is None
    assert await rows_holding(core.db, ALICE) == []


async def test_a_double_click_replays_and_a_second_request_finds_nothing(core):
    await someone_with_data_everywhere(core, ALICE, "alice")
    first = await core.forget_discord_user(ALICE, actor=f"discord:{ALICE}", reason=None, key="privacy:1")
    books = await count_rows(core.db, ("audit_log", "idempotency_keys", "invoices"))
    again = await core.forget_discord_user(ALICE, actor=f"discord:{ALICE}", reason=None, key="privacy:1")
    assert again.replayed and (again.rows, again.tables) == (first.rows, first.tables)
    later = await core.forget_discord_user(ALICE, actor=f"discord:{ALICE}", reason=None, key="privacy:2")
    assert later.rows == 0 and not later.replayed
    assert await count_rows(core.db, ("audit_log", "idempotency_keys", "invoices")) == books
    with pytest.raises(CoreError) as refused:
        await core.forget_discord_user(ALICE, actor="moderator:42", reason="x", key="privacy:1")
    assert refused.value.code == "idempotency_mismatch"


async def test_two_presses_at_once_forget_once(core):
    await someone_with_data_everywhere(core, ALICE, "alice")
    results = await asyncio.gather(*(
        core.forget_discord_user(ALICE, actor=f"discord:{ALICE}", reason=None, key="privacy:same") for _ in range(2)))
    assert len(await forget_audits(core)) == 1
    assert {r.rows for r in results} == {results[0].rows} and sorted(r.replayed for r in results) == [False, True]
    assert await rows_holding(core.db, ALICE) == []


async def test_a_failure_halfway_changes_nothing(core, monkeypatch):
    await someone_with_data_everywhere(core, ALICE, "alice")
    before = {n: await rows_holding(core.db, n) for n in (ALICE, *MARKERS)}

    async def broken(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(privacy_scan, "rewrite", broken)
    with pytest.raises(RuntimeError):
        await core.forget_discord_user(ALICE, actor="moderator:42", reason="x", key="forget:1")
    assert {n: await rows_holding(core.db, n) for n in (ALICE, *MARKERS)} == before
    assert await forget_audits(core) == []
    monkeypatch.undo()
    assert (await core.forget_discord_user(ALICE, actor="moderator:42", reason="x", key="forget:1")).rows > 0
    assert await rows_holding(core.db, ALICE) == []


async def test_an_unlinked_user_is_forgotten_too(core):
    await core.users.set_language(ALICE, "de")
    case = await core.cases.open_help(ALICE, None, {"topic": "help", "details": HELP_NOTE}, key="help:1")
    done = await core.forget_discord_user(ALICE, actor="moderator:42", reason="x", key="forget:1")
    assert dict(done.tables) == {"discord_users": 1, "cases": 1, "audit_log": 1}
    assert await rows_holding(core.db, ALICE) == [] and await rows_holding(core.db, HELP_NOTE) == []
    assert (await core.cases.get(case.id)).status == "open"
    [record] = await forget_audits(core)
    assert record["account_id"] is None


async def test_a_table_this_code_does_not_know_loses_the_rows_that_hold_the_id(core):
    async with core.db.transaction() as tx:
        await tx.execute("CREATE TABLE chat_notes (asked_by TEXT, question TEXT)")
        for who, text in ((ALICE, "how do I cancel"), (BOB, "where is my refund")):
            await tx.execute("INSERT INTO chat_notes (asked_by, question) VALUES (?, ?)", who, text)
    done = await core.forget_discord_user(ALICE, actor="moderator:42", reason="x", key="forget:1")
    assert dict(done.tables) == {"chat_notes": 1}
    async with core.db.read() as tx:
        assert await tx.fetchall("SELECT asked_by FROM chat_notes") == [{"asked_by": BOB}]


async def test_every_table_of_the_schema_is_known(core):
    """A new table is either listed as kept (the id rewritten) or loses the rows holding the id:
    whoever adds one decides which, here."""
    async with core.db.read() as tx:
        tables = set(await privacy_scan.text_columns(tx, core.db.dialect))
    assert tables - privacy.KEPT == set()


async def test_bad_requests_are_refused_and_change_nothing(core):
    await someone_with_data_everywhere(core, ALICE, "alice")
    for discord_id, key, reason in (("alice", "k", None), (ALICE, "", None), (ALICE, f"privacy:{ALICE}", None),
                                    (ALICE, "k", "x" * 501)):
        with pytest.raises(CoreError) as refused:
            await core.forget_discord_user(discord_id, actor="moderator:42", reason=reason, key=key)
        assert refused.value.code == "invalid"
    assert (await core.what_we_keep(ALICE)).texts == 3


def test_the_id_is_rewritten_only_where_it_stands_alone():
    assert privacy_scan.scrub_text(f"<@{ALICE}> and <@!{ALICE}>, discord:{ALICE}", ALICE) == (
        "@forgotten and @forgotten, discord:forgotten")
    assert privacy_scan.scrub_text(f"9{ALICE} a{ALICE}f", ALICE) == f"9{ALICE} a{ALICE}f"  # a longer number, a uuid
    assert json.loads(privacy_scan.scrub_stored(json.dumps({ALICE: [int(ALICE), COMMENT, "x"]}), ALICE,
                                                frozenset({COMMENT}))) == {"forgotten": ["forgotten", None, "x"]}
    assert privacy.mask_email("alice@example.com") == "a***@example.com"
