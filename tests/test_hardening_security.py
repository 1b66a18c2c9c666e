"""Nobody let in, nothing leaked: secrets out of logs, private files, per-user limits, SQL
only with parameters, moderators' tools closed to everyone else.
"""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import sys

import pytest

from bot.bootstrap import build
from bot.settings import SettingsError, load_settings
from flows.limits import STARTS_PER_MINUTE, StartLimit
from tests import bot_harness
from tests.bot_harness import ALICE, BOB, ROOT, Harness, environment, mentions_off_everywhere
from tests.conftest import table_counts
from tests.discord_double import DoubleTimeout
from tests.discord_double.interactions import new_interaction
from tests.refund_harness import MODS, moderated
from tests.test_hardening_kill import record_figures

CANARY = "MTIzNDU2Nzg5.CANARY-secret-token.xyzzy-do-not-log"


async def test_the_token_never_reaches_logs_or_error_messages(tmp_path, monkeypatch):
    monkeypatch.setattr(bot_harness, "TOKEN", CANARY)
    async with Harness.open(tmp_path) as h:
        await h.account(ALICE)
        log_path = tmp_path / "debug.log"
        env = {**os.environ, **environment(tmp_path, h.double), "LOG_LEVEL": "DEBUG", "PYTHONPATH": str(ROOT)}
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=log, stderr=log)
            try:
                await h.double.wait_ready(timeout=20)
                reasons = await h.command(ALICE, "cancel")
                await h.choose(ALICE, reasons, "other")
                await h.double.say(ALICE, "support", "how can I cancel my subscription?")
                await h.double.next_message("support")
                h.double.fail("POST", "/interactions/*/callback", status=403, code=50001, times=2)
                await h.double.slash(ALICE, "subscription")  # an error path, logged with its traceback
                await asyncio.sleep(0.5)
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 10)
        logged = log_path.read_text(errors="replace")
        assert "DEBUG" in logged and len(logged) > 2000  # it did log, verbosely
        for fragment in (CANARY, CANARY[:12], CANARY.split(".")[1]):
            assert fragment not in logged
        assert "Authorization" not in logged or CANARY not in logged
    # Error messages about the token never quote it.
    for bad in (CANARY + " x", "short"):
        with pytest.raises(SettingsError) as error:
            load_settings({"DISCORD_TOKEN": bad}, env_file="/nonexistent")
        assert bad not in str(error.value) and CANARY[:12] not in str(error.value)
    settings = load_settings({"DISCORD_TOKEN": CANARY}, env_file="/nonexistent")
    assert CANARY not in repr(settings) and CANARY not in str(settings)
    record_figures(security_log_bytes_scanned=len(logged))


async def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        app = await build(load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'bot.db'}"}, env_file="/nonexistent"))
        await app.core.create_account("a@example.com", key="signup", plan="plus")
        files = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").iterdir()}
        await app.close()
    finally:
        os.umask(old)
    assert set(files) >= {"bot.db", "bot.db-wal", "bot.db-shm"}, files
    assert all(mode == 0o600 for mode in files.values()), {k: oct(v) for k, v in files.items()}


@pytest.fixture
async def h(tmp_path):
    async with moderated(tmp_path) as harness:
        yield harness
        assert mentions_off_everywhere(harness.double) == []


async def test_a_flood_of_messages_gets_a_few_replies(h):
    await h.start_bot()
    for n in range(100):
        await h.double.say(BOB, "support", f"how can I cancel my subscription? {n}")
    await h.double.next_message("support", timeout=10)
    control = await h.double.say(ALICE, "support", "how can I cancel my subscription?")  # handled after all 100
    await h.double.world.wait_until(
        lambda: any((m.message_reference or {}).get("message_id") == control.id for m in h.double.messages_in("support")) or None,
        15, "the control answer")
    replies = [m for m in h.double.messages_in("support")
               if m.author_id == h.double.bot_user.id and m.message_reference["message_id"] != control.id]
    assert 1 <= len(replies) <= 3
    record_figures(rate_messages_sent=100, rate_message_replies=len(replies))


async def test_a_flood_of_flow_starts_is_limited_and_lifts_after_a_real_minute(h):
    real = [1000.0]  # the limit's monotonic clock, in seconds
    await h.account(ALICE)
    await h.start_bot(starts=StartLimit(clock=lambda: real[0]))
    answers = []
    for _ in range(100):
        answers.append((await h.command(ALICE, "topup")).content)
    limited = [a for a in answers if "faster than I can keep up" in a]
    assert len(answers) - len(limited) == STARTS_PER_MINUTE
    assert (await table_counts(h.app.db))["flows"] == STARTS_PER_MINUTE
    # Someone else is not held back.
    await h.account(BOB)
    assert "faster than" not in (await h.command(BOB, "topup")).content
    # Simulated time standing still (CLOCK=simulated) keeps nobody waiting: a real minute lifts it.
    real[0] += 59
    assert "faster than" in (await h.command(ALICE, "topup")).content
    real[0] += 2
    assert "faster than" not in (await h.command(ALICE, "topup")).content
    record_figures(rate_flow_starts=100, rate_flow_starts_allowed=STARTS_PER_MINUTE)


async def test_a_non_moderator_cannot_submit_a_case_decision_form(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    from tests.bot_harness import select_of

    reasons = await h.choose(ALICE, dm, select_of(dm)["options"][0]["value"])
    await h.press(ALICE, await h.choose(ALICE, reasons, "duplicate"), "Send without details")
    post = await h.double.next_message(MODS)
    [case] = await h.app.core.cases.list()
    before = await table_counts(h.app.db)
    world = h.double.world
    data = {"custom_id": f"case:{case.id}:approve",
            "components": [{"type": 18, "id": 1, "component": {"type": 4, "id": 1, "custom_id": "reason", "value": "me"}}]}
    record = new_interaction(world, kind=5, user=world.user(BOB), channel=world.channels[post.channel_id], data=data,
                             message=post)
    refused = await (await h.double._dispatch(record)).response()
    assert refused.ephemeral and "Only moderators" in refused.content
    assert await table_counts(h.app.db) == before and (await h.app.core.cases.get(case.id)).status == "open"
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(MODS, timeout=0.3)


# -- SQL only with parameters -----------------------------------------------------------------

SQL_CALLS = {"execute", "fetchone", "fetchall", "execute_fetchall", "executemany", "fetch", "fetchrow", "fetchval"}


def _dynamic_sql(node: ast.expr, allowed: set[str]) -> str | None:
    """Why this SQL argument could carry data, or None if it is built from code alone."""
    if isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                value = part.value
                # Allowed: module constants (UPPER_CASE) and names of tables/columns from code below.
                if isinstance(value, ast.Name) and value.id.isupper():
                    continue
                if ast.unparse(value) in allowed:
                    continue
                return f"f-string with {ast.unparse(value)}"
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return f"string built with {type(node.op).__name__}: {ast.unparse(node)[:80]}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return f".{node.func.attr}(): {ast.unparse(node)[:80]}"
    return None


# Identifiers the code itself picks, read and checked by hand where they are used: a preference
# column from a fixed set (checked at run time), table names read from the schema (storage copy).
CODE_NAMES = {
    "core/preferences.py": {"column"},
    "core/privacy_scan.py": {"table", "column"},  # read from the schema, checked against a pattern
    "storage/copy.py": {"name", "table.name", "columns"},
    "storage/sqlite.py": {"wait_ms"},
}


def test_no_user_text_reaches_sql_except_as_a_parameter():
    found = []
    scanned = 0
    for folder in ("core", "storage", "flows", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS and node.args:
                    scanned += 1
                    why = _dynamic_sql(node.args[0], CODE_NAMES.get(str(path.relative_to(ROOT)), set()))
                    if why:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {why}")
                # SQL built first and passed by name: sql = f"...", statement = ...
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("sql", "query", "statement")
                                                        for t in node.targets):
                    value = node.value.left if isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Add) else node.value
                    why = _dynamic_sql(value, CODE_NAMES.get(str(path.relative_to(ROOT)), set()))
                    if why:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {why}")
    assert scanned > 100
    assert found == [], "\n".join(found)
    record_figures(security_sql_calls_scanned=scanned)


def test_sql_looking_text_round_trips_verbatim(tmp_path):
    async def go():
        app = await build(load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}", "CLOCK": "simulated"},
                                        env_file="/nonexistent"))
        try:
            nasty = ["'; DROP TABLE accounts; --", "Robert'); DELETE FROM invoices;--", "\" OR \"\"=\"", "%' OR '1'='1",
                     "\\'; SELECT 1; --", "$1 $2 ? ?? :name @p0", "\x00", "🔥' UNION SELECT * FROM audit_log --"]
            account = await app.core.create_account("sql@example.com", key="s", discord_id="42", plan="plus")
            for n, text in enumerate(nasty):
                await app.core.users.set_language(text[:5], None)
                case = await app.core.cases.open_help("42", account.account_id, {"said": text}, key=f"h{n}")
                assert case.context["said"] == text
            await app.core.cancel(account.account_id, "other", comment=nasty[0] + nasty[1], key="c")
            assert (await app.core.snapshot(account.account_id)).cancel_at_period_end
            async with app.db.read() as tx:
                assert (await tx.fetchone("SELECT cancel_comment FROM subscriptions"))["cancel_comment"] == nasty[0] + nasty[1]
                assert (await tx.fetchone("SELECT COUNT(*) AS n FROM accounts"))["n"] == 1
        finally:
            await app.close()

    asyncio.run(go())


async def test_a_database_password_never_reaches_an_error_message():
    from storage.db import open_database
    from storage.errors import StorageError

    for url in ("postgresql://bot:S3CRET-PW-canary@127.0.0.1:1/bot", "postgresql://bot:S3CRET-PW-canary@127.0.0.1:notaport/bot",
                "postgresql://bot:S3CRET-PW-canary@[::1/bot"):
        with pytest.raises(StorageError) as error:
            await open_database(url)
        assert "S3CRET" not in str(error.value) and "S3CRET" not in repr(error.value.__cause__ or ""), str(error.value)
