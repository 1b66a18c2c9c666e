"""The operator CLI as an operator meets it: what `migrate` did, and bad arguments refused with
one line and exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import SIMULATION_EPOCH, build, clock_warning
from bot.cli import migrate_report
from bot.settings import Settings
from core.clock import SimulatedClock
from storage.migrations_runner import migration_files

ROOT = Path(__file__).resolve().parent.parent


def cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "CLOCK": "simulated", **settings}
    env.pop("DISCORD_TOKEN", None)
    env = {name: value for name, value in env.items() if value}  # "": not set
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_migrate_says_what_it_created_then_that_nothing_was_left(tmp_path):
    first = cli(tmp_path, "migrate")
    assert first.returncode == 0
    files = [name for _, name, _ in migration_files()]
    assert first.stdout.strip() == (
        f"created a new database, {tmp_path / 'cli.db'}: applied {len(files)} migrations: {', '.join(files)}")
    assert "001_initial.sql" in files and "004_outbox.sql" in files
    again = cli(tmp_path, "migrate")
    assert again.returncode == 0 and again.stdout.strip() == f"{tmp_path / 'cli.db'} is up to date: no migration to apply"


def test_migrate_names_a_postgres_database_without_its_password():
    assert migrate_report([], "postgresql://bot:s3cret@db.example.internal:5432/bot") == (
        "PostgreSQL database bot on db.example.internal is up to date: no migration to apply")
    assert migrate_report(["009_next.sql"], "sqlite:///data/bot.db") == (
        "upgraded data/bot.db: applied 1 migration: 009_next.sql")


def test_a_discord_id_must_be_a_snowflake(tmp_path):
    bad = cli(tmp_path, "accounts", "add", "a@example.com", "--discord", "notanumber")
    assert bad.returncode == 2
    assert "expected a Discord user id (17 to 20 digits), got 'notanumber'" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = cli(tmp_path, "accounts", "add", "a@example.com", "--discord", "123456789012345678")
    assert good.returncode == 0 and "created a@example.com" in good.stdout


def test_the_clock_only_moves_forward(tmp_path):
    for args in (("clock", "advance", "-5d"), ("clock", "advance", "--", "-5d")):
        back = cli(tmp_path, *args)
        assert back.returncode == 2, back.stderr
        assert back.stderr.startswith("error: the clock only moves forward: '-5d' would move it back.")
        assert "the following arguments are required" not in back.stderr and "Traceback" not in back.stderr
    on = cli(tmp_path, "clock", "advance", "5d")
    assert on.returncode == 0 and "simulated time is now 2026-11-06 12:00 UTC" in on.stdout


def test_simulated_time_has_its_own_database_unless_one_is_named(tmp_path):
    demo = cli(tmp_path, "migrate", DATABASE_URL="")
    assert demo.returncode == 0 and "created a new database, data/demo.db" in demo.stdout
    assert (tmp_path / "data" / "demo.db").is_file() and not (tmp_path / "data" / "bot.db").exists()
    real = cli(tmp_path, "migrate", DATABASE_URL="", CLOCK="system")
    assert real.returncode == 0 and "created a new database, data/bot.db" in real.stdout


async def test_a_clock_behind_the_databases_records_is_warned_about(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", clock="simulated")
    app = await build(settings)
    try:
        assert app.time_warning is None
        await app.advance_clock(timedelta(days=40))
        await app.core.create_account("a@example.com", key="signup", plan="plus")
        assert await clock_warning(app.db, app.clock) is None  # the clock that wrote them
        behind = await clock_warning(app.db, SimulatedClock(SIMULATION_EPOCH))
        assert behind.startswith("the database has records up to 2026-12-11 12:00 UTC, but simulated time is "
                                 "2026-11-01 12:00 UTC: it was also used with the real clock.")
        ahead = SimulatedClock(SIMULATION_EPOCH + timedelta(days=400))
        assert await clock_warning(app.db, ahead) is None
    finally:
        await app.close()


@pytest.mark.skipif(datetime.now(UTC) < SIMULATION_EPOCH + timedelta(days=1), reason="real time is before simulated time")
def test_a_simulated_clock_behind_the_records_is_warned_about(tmp_path):
    real = cli(tmp_path, "accounts", "add", "a@example.com", "--plan", "plus", CLOCK="system")
    assert real.returncode == 0 and real.stderr == ""
    simulated = cli(tmp_path, "accounts", "show", "a@example.com")  # the same database, simulated time
    assert simulated.returncode == 0
    assert simulated.stderr.startswith("warning: the database has records up to ")
    assert "but simulated time is 2026-11-01 12:00 UTC: it was also used with the real clock." in simulated.stderr
    fresh = cli(tmp_path, "accounts", "add", "b@example.com", DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}")
    assert fresh.returncode == 0 and fresh.stderr == ""


def test_help_says_to_use_the_virtualenv(tmp_path):
    shown = cli(tmp_path, "--help")
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: .venv/bin/python -m bot")
    assert "source .venv/bin/activate" in " ".join(shown.stdout.split())


def test_without_a_token_it_says_how_to_run_it_with_the_virtualenv(tmp_path):
    run = cli(tmp_path, "run")
    assert run.returncode == 2
    assert run.stderr.startswith("error: DISCORD_TOKEN: not set.")
    assert "`.venv/bin/python -m bot console` (`make console`)" in run.stderr
    assert " python -m" not in run.stderr.replace(".venv/bin/python -m", "")


def test_the_readmes_commands_use_the_virtualenvs_python():
    """A bare `python` outside the virtualenv fails with "No module named 'aiosqlite'"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```")[1::2]  # the fenced code blocks
    bare = [line for block in blocks for line in block.splitlines()
            if re.search(r"(^|[\s=;|&])python3?\s", line) and not line.lstrip().startswith("#")]
    assert bare == []
    assert "source .venv/bin/activate" in readme  # where `python -m bot …` appears, how to get it
