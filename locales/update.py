"""Refresh the catalogs: ``python -m locales.update`` from the project root.

1. ``pybabel extract -F babel.cfg -k M -k MP:1,2 -o locales/messages.pot .``
   (the keywords are flows/replies.py's ``M`` and ``MP``);
2. ``pybabel update`` each language's .po from it, or ``pybabel init`` a new one;
3. ``pybabel compile`` every .po to the .mo that is committed beside it;
4. print what is left for translators (missing, fuzzy, broken placeholders).

Exit status 0 when every catalog is complete, 1 when translators have work.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import write_po

from .catalog import check_catalogs, po_path, pot_path, read_catalog
from .languages import SUPPORTED, catalog_dir
from .render import DOMAIN, LOCALES_DIR

PROJECT_ROOT = LOCALES_DIR.parent
# Used only when the project has no babel.cfg: the packages whose Python code
# builds messages with M()/MP().
DEFAULT_MAPPING = """\
[python: bot/**.py]
[python: flows/**.py]
[python: core/**.py]
[python: locales/**.py]
"""


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(output: Path | None = None, root: Path = PROJECT_ROOT) -> Path:
    """Write the template of every M()/MP() msgid in the code to ``output`` (default: the .pot)."""
    output = (output or pot_path()).resolve()
    mapping = root / "babel.cfg"
    # Run from the project root on ".": the catalogs then cite source files by their
    # path inside the project ("bot/admin.py:49"), the same on every machine.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(root):
        if not mapping.exists():
            mapping = Path(tmp) / "babel.cfg"
            mapping.write_text(DEFAULT_MAPPING, encoding="utf-8")
        pybabel(
            "extract",
            "-F",
            str(mapping),
            "-k",
            "M",
            "-k",
            "MP:1,2",
            "--add-comments=Translators:",
            "--project=subscription-support-bot",
            "-o",
            str(output),
            ".",
        )
    return output


def update_or_init(lang: str) -> None:
    path = po_path(lang)
    common = ["-i", str(pot_path()), "-d", str(LOCALES_DIR), "-D", DOMAIN, "-l", catalog_dir(lang)]
    if path.exists():
        # No fuzzy matching: a guessed translation of a similar message is worse than none
        # (it may carry other placeholders), and translators see the entry as new.
        pybabel("update", "--no-fuzzy-matching", *common)
        return
    pybabel("init", *common)
    # `init` marks the new header fuzzy, and `compile` skips fuzzy catalogs.
    catalog = read_catalog(path, lang)
    catalog.fuzzy = False
    with open(path, "wb") as f:
        write_po(f, catalog)


def fill_english() -> None:
    """English is the source language: an empty English entry says what its msgid says.

    A copy editor may still change the English wording in the .po without
    touching the code's msgids.
    """
    path = po_path("en")
    catalog = read_catalog(path, "en")
    changed = False
    for message in catalog:
        # A fuzzy entry holds a guess from a similar msgid: for the source language, that is wrong.
        if not message.id or (message.string and all(message.string) and not message.fuzzy):
            continue
        message.string = tuple(message.id) if isinstance(message.id, tuple) else message.id
        message.flags.discard("fuzzy")
        changed = True
    if changed:
        with open(path, "wb") as f:
            write_po(f, catalog)


def compile_all() -> None:
    pybabel("compile", "-d", str(LOCALES_DIR), "-D", DOMAIN)


def main() -> int:
    extract()
    for lang in SUPPORTED:
        update_or_init(lang)
    fill_english()
    compile_all()
    problems = check_catalogs()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
