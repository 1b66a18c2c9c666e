"""Refresh the catalogs: ``python -m locales.update`` (``make catalogs``) from the project root.

1. ``pybabel extract -F babel.cfg -k M -k MP:1,2 --add-location=file -o locales/messages.pot .``
   (the keywords are flows/replies.py's ``M`` and ``MP``);
2. update each language's .po from it (no fuzzy matching), or ``pybabel init`` a new one;
3. compile every .po to the .mo that is committed beside it;
4. print what is left for translators (missing, fuzzy, broken placeholders).

A file is written only when what it says changes, so a run on an unchanged checkout
changes no byte:

- the template keeps its ``POT-Creation-Date`` while its messages stay the same (the
  date is the one thing ``pybabel extract`` would change on every run);
- each .po takes the template's date, and is written only when it says something new;
- each .mo is compiled in memory and written only when its bytes differ (a .mo is a
  function of its .po: the same .po always compiles to the same bytes);
- source references name the file without the line (``#: flows/cancel.py``), so code
  that moves within a file does not touch the catalogs; a message that moves to another
  file does.

Exit status 0 when every catalog is complete, 1 when translators have work.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

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
# The header line that `pybabel extract` sets to the time of the run.
_CREATION_DATE = re.compile(rb'^"POT-Creation-Date: [^"\n]*"\n', re.MULTILINE)


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def same_but_creation_date(old: bytes, new: bytes) -> bool:
    """Whether two catalog files say the same thing, the POT-Creation-Date line aside."""
    return _CREATION_DATE.sub(b"", old) == _CREATION_DATE.sub(b"", new)


def store(path: Path, content: bytes, *, keep_date: bool = False) -> bool:
    """Write ``content`` to ``path`` unless the file already holds it; True when written.

    ``keep_date``: a file that differs from ``content`` only in its POT-Creation-Date is
    left as it is, old date included.
    """
    if path.exists():
        old = path.read_bytes()
        if old == content or (keep_date and same_but_creation_date(old, content)):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # Through a file beside it, so an interrupted run never leaves half a catalog.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return True


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_po(buffer, catalog)  # pybabel update's defaults: width 76, obsolete entries kept
    return buffer.getvalue()


def extract(output: Path | None = None, root: Path = PROJECT_ROOT) -> Path:
    """Write the template of every M()/MP() msgid in the code under ``root`` to ``output``
    (default: the project's .pot). An existing file whose messages are the same is left as
    it is, creation date included."""
    output = Path(output or pot_path(Path(root) / "locales")).resolve()
    mapping = Path(root) / "babel.cfg"
    # Run from the project root on ".": the catalogs then cite source files by their
    # path inside the project ("bot/admin.py"), the same on every machine.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(root):
        if not mapping.exists():
            mapping = Path(tmp) / "babel.cfg"
            mapping.write_text(DEFAULT_MAPPING, encoding="utf-8")
        fresh = Path(tmp) / f"{DOMAIN}.pot"
        pybabel(
            "extract",
            "-F",
            str(mapping),
            "-k",
            "M",
            "-k",
            "MP:1,2",
            "--add-comments=Translators:",
            "--add-location=file",
            "--project=subscription-support-bot",
            "-o",
            str(fresh),
            ".",
        )
        store(output, fresh.read_bytes(), keep_date=True)
    return output


def update_or_init(lang: str, locales_dir: Path = LOCALES_DIR, template: Catalog | None = None) -> None:
    """Bring ``lang``'s .po up to the template (as ``pybabel update --no-fuzzy-matching``
    would), or create it (``pybabel init``); written only when it changes."""
    locales_dir = Path(locales_dir)
    path = po_path(lang, locales_dir)
    if not path.exists():
        pybabel("init", "-i", str(pot_path(locales_dir)), "-d", str(locales_dir), "-D", DOMAIN,
                "-l", catalog_dir(lang))
        # `init` may mark the new header fuzzy, and `compile` skips fuzzy catalogs.
        catalog = read_catalog(path, lang)
        catalog.fuzzy = False
        store(path, _po_bytes(catalog))
        return
    if template is None:
        template = read_catalog(pot_path(locales_dir))
    with open(path, "rb") as f:
        catalog = read_po(f, locale=catalog_dir(lang), domain=DOMAIN)
    # No fuzzy matching: a guessed translation of a similar message is worse than none
    # (it may carry other placeholders), and translators see the entry as new.
    catalog.update(template, no_fuzzy_matching=True)
    store(path, _po_bytes(catalog), keep_date=True)


def fill_english(locales_dir: Path = LOCALES_DIR) -> None:
    """English is the source language: an empty English entry says what its msgid says.

    A copy editor may still change the English wording in the .po without
    touching the code's msgids.
    """
    path = po_path("en", locales_dir)
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
        store(path, _po_bytes(catalog))


def compile_all(locales_dir: Path = LOCALES_DIR) -> None:
    """Every ``<dir>/LC_MESSAGES/messages.po`` to its .mo, as ``pybabel compile`` would, in
    memory; a .mo is written only when its bytes change. A catalog whose header is fuzzy
    is not compiled (the check below reports it)."""
    for po in sorted(Path(locales_dir).glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with open(po, "rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
        if catalog.fuzzy:
            continue
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        store(po.with_suffix(".mo"), buffer.getvalue())


def main(root: Path = PROJECT_ROOT) -> int:
    """Refresh the catalogs of the project at ``root``; prints what translators have to do."""
    locales_dir = Path(root) / "locales"
    extract(pot_path(locales_dir), root)
    template = read_catalog(pot_path(locales_dir))
    for lang in SUPPORTED:
        update_or_init(lang, locales_dir, template)
    fill_english(locales_dir)
    compile_all(locales_dir)
    problems = check_catalogs(locales_dir)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
