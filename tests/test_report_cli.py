"""``python -m bot report`` as an operator runs it: the table on stdout, the chart and the CSV on disk,
and bad arguments refused with one line and exit status 2."""

from __future__ import annotations

import csv
import os
import struct
import subprocess
import sys
from pathlib import Path

from bot.bootstrap import SIMULATION_EPOCH
from bot.report_chart import HEIGHT, WIDTH
from core.report import WeekFigures, week_starts
from tests.conftest import Keys, make_core, new_account

ROOT = Path(__file__).resolve().parent.parent


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "CLOCK": "simulated"}
    env.pop("DISCORD_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


async def test_the_report_prints_the_numbers_and_writes_the_chart_and_the_csv(tmp_path):
    # Records made at the simulated clock's start, where the CLI's clock is too.
    core = await make_core(f"sqlite:///{tmp_path / 'cli.db'}", start=SIMULATION_EPOCH)
    key = Keys()
    for reason in ("too_expensive", "too_expensive", "taking_break"):
        account = await new_account(core, key, plan="plus")
        await core.cancel(account.account_id, reason, "secret words", key=key("cancel"))
    await core.db.close()

    chart, numbers = tmp_path / "report.png", tmp_path / "report.csv"
    done = cli(tmp_path, "report", "--weeks", "3", "--out", str(chart), "--csv", str(numbers))
    assert done.returncode == 0, done.stderr
    weeks = [WeekFigures(start).label for start in week_starts(SIMULATION_EPOCH, 3)]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Weekly report: 3 ISO weeks (Monday 00:00 UTC)")
    assert lines[2].split() == weeks
    assert [line.split()[-3:] for line in lines if line.startswith("Cancellations")] == [["0", "0", "3"]]
    assert [line.split()[-3:] for line in lines if line.strip().startswith("Too expensive")] == [["0", "0", "2"]]
    assert f"chart: {chart} ({WIDTH}x{HEIGHT} PNG)" in lines
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
    rows = list(csv.DictReader(numbers.open(encoding="utf-8")))
    assert [r["week"] for r in rows] == weeks
    assert [r["cancellations"] for r in rows] == ["0", "0", "3"] and rows[-1]["comments"] == "3"
    assert "secret" not in done.stdout and "secret" not in numbers.read_text()


def test_bad_arguments_are_one_line_and_status_2(tmp_path):
    for args, says in (
        (["report", "--weeks", "0", "--out", "r.png"], "expected a whole number of weeks from 1 to 104, got '0'"),
        (["report", "--weeks", "8"], "the following arguments are required: --out"),
        (["report", "--out", str(tmp_path / "missing" / "r.png")], f"--out: no folder {tmp_path / 'missing'}"),
    ):
        done = cli(tmp_path, *args)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
