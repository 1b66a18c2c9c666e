"""The report's chart and texts: a PNG of the expected size, drawn only when asked for.

matplotlib must stay out of the bot until a report is made (its memory at rest), so importing
every bot module and building the bot leaves it unimported; drawing a chart imports it.
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.admin_report import chunks
from bot.report_chart import HEIGHT, WIDTH, render_png
from bot.report_chart_data import chart_data
from bot.report_text import report_lines
from core.report import Report, WeekFigures, week_starts

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)


def sample(weeks: int = 8) -> Report:
    figures = []
    for i, start in enumerate(week_starts(NOW, weeks)):
        week = WeekFigures(start)
        week.cancellations.update({"too_expensive": i % 3, "not_using": 1, "other": i % 2})
        week.comments.update({"too_expensive": i % 2})
        week.offers_shown, week.offers_taken, week.resumes = 4, i % 3, 1
        week.refunds_approved, week.refunded_minor, week.refunds_denied, week.denied_minor = i % 2, 1999 * (i % 2), 1, 999
        week.topics.update({"cancel": 5, "refund": i, "status": 2, "none": 3})
        week.languages.update({"en": 6 + i, "fa": 4})
        week.decisions.update({"answered": 7 + i, "asked": 0, "menu": 1, "quiet": 2})
        week.topic_languages.update({("cancel", "en"): 3, ("cancel", "fa"): 2, ("refund", "en"): i,
                                     ("status", "fa"): 2, ("none", "en"): 3})
        figures.append(week)
    return Report(figures, NOW, "USD")


def test_the_chart_is_a_png_of_the_expected_size_in_every_language_and_range():
    from PIL import Image  # pillow comes with matplotlib

    for lang, weeks in (("en", 8), ("de", 1), ("fa", 8), ("ar", 2), ("ru", 52)):
        png = render_png(chart_data(sample(weeks), lang))
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT)), (lang, weeks)


def test_persian_and_arabic_moderators_get_an_english_chart_and_their_own_text():
    # matplotlib neither joins Arabic letters nor lays out right to left.
    assert chart_data(sample(), "fa") == chart_data(sample(), "en")
    assert chart_data(sample(), "de").weeks[0] == "W03\n12.1."  # ISO week, then its Monday the German way
    lines = report_lines(sample(), "fa")
    assert all(line.startswith("\u200f") for line in lines)  # right-to-left lines
    assert "۱۴۰۴" in lines[0]  # Solar Hijri dates, Persian digits
    assert not any(ch in "0123456789" for ch in lines[-1])  # counts in Persian digits too


def test_long_reports_are_split_at_line_ends_into_messages_discord_takes():
    lines = [f"line {i} " + "x" * 300 for i in range(20)]
    messages = chunks(lines)
    assert all(len(m) <= 2000 for m in messages) and len(messages) == 4
    assert "\n".join(messages) == "\n".join(lines)
    assert chunks(["y" * 2500]) == ["y" * 1999 + "…"]


def test_matplotlib_is_imported_only_when_a_chart_is_drawn(tmp_path):
    script = f"""
import asyncio, faulthandler, pkgutil, importlib, sys
faulthandler.dump_traceback_later(100, exit=True)  # a hang shows where it is
import bot
for module in pkgutil.iter_modules(bot.__path__):
    if module.name != "__main__":
        importlib.import_module("bot." + module.name)
from bot.bootstrap import build
from bot.discord_app import make_bot
from bot.settings import load_settings

async def main():
    app = await build(load_settings({{"DISCORD_TOKEN": "x" * 30, "DATABASE_URL": "sqlite:///{tmp_path / 'bot.db'}"}}))
    make_bot(app)  # the client, its command tree and /admin with report
    await app.close()

asyncio.run(main())
assert "matplotlib" not in sys.modules, "matplotlib was imported by the bot at rest"
from bot.report_chart import render_png
from bot.report_chart_data import chart_data
from tests.test_report_chart import sample
render_png(chart_data(sample(), "en"))
assert "matplotlib" in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
