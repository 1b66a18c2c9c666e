"""kill -9 at random moments during 500 scripted flows, then restart: nothing lost, nothing half-done.

The flows (tests/hardening_worker.py) run in their own process on a SQLite file, with the
simulated payment provider keeping its charges in its own ledger file (the provider's
records, which a kill of the bot does not touch). The process is killed (SIGKILL) at a
random moment, started again (bootstrap recovers pending payments), killed again, until
500 flows have been started. Then:

- ``PRAGMA integrity_check`` is ok;
- the core's invariants hold (every bucket's balance is the sum of its entries, no bucket
  below zero, at most one live subscription per account);
- every flow either completed (its audit record and effects exist) or changed nothing
  (no audit record, no invoice, no credit bucket, no entry carries its key);
- every charge in the provider's ledger has its invoice, or was refunded by recovery
  (and then no invoice), and every invoice with money has its charge in the ledger.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOWS = 500
FIGURES = Path(os.environ.get("HARDENING_FIGURES") or Path(tempfile.gettempdir()) / "hardening_figures.json")


def record_figures(**figures) -> None:
    """Figures for the README's Reliability section (merged across the hardening tests)."""
    try:
        known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    except ValueError:
        known = {}
    known.update(figures)
    FIGURES.write_text(json.dumps(known, indent=1, sort_keys=True))


def journal(path: Path) -> tuple[dict[int, str], set[int], set[int]]:
    started, done, refused = {}, set(), set()
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue  # a line cut by the kill
            if parts[0] == "S" and len(parts) == 3:
                started[int(parts[1])] = parts[2]
            elif parts[0] == "D":
                done.add(int(parts[1]))
            elif parts[0] == "R":
                refused.add(int(parts[1]))
    return started, done, refused


def test_kill_9_during_500_flows_loses_nothing_and_leaves_nothing_half_done(tmp_path):
    db_path, ledger_path, journal_path = tmp_path / "bot.db", tmp_path / "provider.db", tmp_path / "journal"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{db_path}", "CLOCK": "simulated",
        "PAYMENT_SIMULATION_LEDGER": str(ledger_path), "DISCORD_TOKEN": "", "LOG_LEVEL": "WARNING",
    }
    rnd = random.Random(9)
    kills = 0
    stuck_seen: set[str] = set()
    deadline = time.monotonic() + 75
    while len(journal(journal_path)[0]) < FLOWS and time.monotonic() < deadline:
        if db_path.exists():
            with sqlite3.connect(db_path) as conn:
                if conn.execute("SELECT name FROM sqlite_master WHERE name = 'payment_attempts'").fetchone():
                    stuck_seen |= {r[0] for r in conn.execute(
                        "SELECT key FROM payment_attempts WHERE status = 'pending' AND started_at > 0")}
        worker = subprocess.Popen([sys.executable, "-m", "tests.hardening_worker", str(journal_path), str(FLOWS)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait for the worker to get going (imports, migrations, recovery), then kill it at a
        # random moment among its flows.
        size = journal_path.stat().st_size if journal_path.exists() else 0
        until = time.monotonic() + 15
        while worker.poll() is None and time.monotonic() < until:
            if journal_path.exists() and journal_path.stat().st_size > size:
                break
            time.sleep(0.01)
        try:
            worker.wait(timeout=rnd.uniform(0.02, 0.3))
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            continue
        assert worker.returncode == 0, worker.stderr.read().decode()[-3000:]
    started, done, refused = journal(journal_path)
    assert len(started) >= FLOWS, f"only {len(started)} flows in time"
    assert kills >= 15, f"only {kills} kills: the test did not test much"

    # One more start, as after the last kill: the bootstrap's recovery runs, nothing else.
    final = subprocess.run([sys.executable, "-m", "tests.hardening_worker", str(journal_path), str(FLOWS)],
                           cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert final.returncode == 0, final.stderr.decode()[-3000:]

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    q = lambda sql, *a: conn.execute(sql, a).fetchall()
    assert q("PRAGMA integrity_check")[0][0] == "ok"
    assert q("PRAGMA foreign_key_check") == []

    # The core's invariants.
    for b in q("SELECT b.id, b.amount, b.remaining, COALESCE(SUM(e.delta), 0) AS total FROM credit_buckets b "
               "LEFT JOIN credit_entries e ON e.bucket_id = b.id GROUP BY b.id"):
        assert b["remaining"] == b["total"] and 0 <= b["remaining"] <= b["amount"], dict(b)
    assert q("SELECT account_id FROM subscriptions WHERE status <> 'ended' GROUP BY account_id HAVING COUNT(*) > 1") == []

    # Every flow completed or changed nothing.
    interrupted = [n for n in started if n not in done and n not in refused]
    audited = {r["idempotency_key"] for r in q("SELECT idempotency_key FROM audit_log WHERE idempotency_key IS NOT NULL")}
    completed_anyway = 0
    charge_ids = [r[0] for r in q("SELECT provider_charge_id FROM invoices")]
    sources = [r[0] for r in q("SELECT source FROM credit_buckets")]
    keys = {r[0] for r in q("SELECT key FROM idempotency_keys")}
    for n in interrupted:
        key = f"flow{n}"
        if key in audited:
            completed_anyway += 1  # killed after the commit, before the journal line
            continue
        mine = re.compile(rf":{key}(_dup)?$")
        traces = [c for c in charge_ids + sources if mine.search(c)] + ([key] if key in keys else [])
        assert traces == [], (n, started[n], traces)
    for n in done:
        if started[n] not in ("clock",):
            assert f"flow{n}" in audited, n

    # Every charge has its change, every change its charge.
    ledger = sqlite3.connect(ledger_path)
    charges = {key: json.loads(ids) for key, ids in ledger.execute("SELECT key, charge_ids FROM charges")}
    refunds = {key: charge for key, charge in ledger.execute("SELECT key, charge_id FROM refunds")}
    invoices = {r["provider_charge_id"]: dict(r) for r in q("SELECT provider_charge_id, amount, kind FROM invoices")}
    attempts = {r["key"]: r["status"] for r in q("SELECT key, status FROM payment_attempts")}
    refunded_by_recovery = 0
    for key, ids in charges.items():
        recorded = [cid in invoices for cid in ids]
        if all(recorded):
            assert attempts.get(key) == "completed", (key, attempts.get(key))
            continue
        assert not any(recorded), key
        assert attempts.get(key) == "refunded", (key, attempts.get(key))
        assert all(f"recover:{key}" + (f":{i}" if i else "") in refunds for i in range(len(ids))), key
        refunded_by_recovery += 1
    for charge_id, invoice in invoices.items():
        if invoice["amount"] > 0:
            assert any(charge_id in ids for ids in charges.values()), invoice
    assert "pending" not in attempts.values() and "refunding" not in attempts.values()

    record_figures(kill_flows=len(started), kill_kills=kills, kill_interrupted=len(interrupted),
                   kill_completed_before_kill=completed_anyway, kill_pending_payments_seen=len(stuck_seen),
                   kill_refunded_by_recovery=refunded_by_recovery, kill_charges=len(charges),
                   kill_invoices=len(invoices), kill_refused=len(refused), kill_completed=len(done))
