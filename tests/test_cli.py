"""The operator CLI as an operator meets it: what `migrate` did, and bad arguments refused with
one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "CLOCK": "simulated"}
    env.pop("DISCORD_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_migrate_says_what_it_created_then_that_nothing_was_left(tmp_path):
    first = cli(tmp_path, "migrate")
    assert first.returncode == 0
    assert first.stdout.startswith("applied 4 migrations: 001_initial.sql, ") and "004_outbox.sql" in first.stdout
    again = cli(tmp_path, "migrate")
    assert again.returncode == 0 and again.stdout.strip() == "database is up to date"


def test_a_discord_id_must_be_a_snowflake(tmp_path):
    bad = cli(tmp_path, "accounts", "add", "a@example.com", "--discord", "notanumber")
    assert bad.returncode == 2
    assert "expected a Discord user id (17 to 20 digits), got 'notanumber'" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = cli(tmp_path, "accounts", "add", "a@example.com", "--discord", "123456789012345678")
    assert good.returncode == 0 and "created a@example.com" in good.stdout
