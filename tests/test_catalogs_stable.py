"""`make catalogs` (``python -m locales.update``) on an unchanged checkout changes no byte.

The update runs on a copy of the catalogs and of the code they are extracted from. Before
it runs, the copy's POT-Creation-Date is moved back to 2001 in the template and in every
.po (and each .mo compiled again from its .po), so an update that writes today's date
changes bytes whatever the time, and fails here; so does any other rewrite: a catalog
that is out of date with the code, other line wrapping or order, a .mo that does not come
out the same from the same .po.
"""

from __future__ import annotations

import difflib
import re
import shutil
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from locales import update

ROOT = Path(__file__).resolve().parents[1]


def sources() -> list[str]:
    """What the update reads: the folders babel.cfg extracts from, and locales/ (the catalogs)."""
    mapped = re.findall(r"^\[\w+:\s*([^/\]\s]+)/", (ROOT / "babel.cfg").read_text(encoding="utf-8"), re.MULTILINE)
    return sorted({*mapped, "locales"})


OLD_DATE = b'"POT-Creation-Date: 2001-02-03 04:05+0000\\n"\n'
CREATION_DATE = re.compile(rb'^"POT-Creation-Date: [^"\n]*"\n', re.MULTILINE)


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
    if Path(directory).name == "locales":
        skip.add("data")  # training data and models: not read by the update
    return skip


def _catalog_files(root: Path) -> list[Path]:
    locales = root / "locales"
    return sorted([locales / "messages.pot", *locales.glob("*/LC_MESSAGES/messages.*")])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the update reads, its creation dates moved to 2001."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(ROOT / "babel.cfg", copy / "babel.cfg")
    for name in sources():
        shutil.copytree(ROOT / name, copy / name, ignore=_ignore)
    for path in _catalog_files(copy):
        if path.suffix in (".pot", ".po"):
            text, found = CREATION_DATE.subn(lambda _: OLD_DATE, path.read_bytes(), count=1)
            assert found == 1, f"{path.name}: no POT-Creation-Date header"
            path.write_bytes(text)
    for po in (copy / "locales").glob("*/LC_MESSAGES/messages.po"):
        with open(po, "rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        po.with_suffix(".mo").write_bytes(buffer.getvalue())
    return copy


def _changes(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            changes.append(f"{name}: removed")
        elif name not in before:
            changes.append(f"{name}: created")
        elif before[name] != after[name]:
            if name.endswith((".po", ".pot")):
                diff = difflib.unified_diff(
                    before[name].decode().splitlines(), after[name].decode().splitlines(), lineterm="", n=0)
                changes.append(f"{name}:\n" + "\n".join(list(diff)[2:12]))
            else:
                changes.append(f"{name}: bytes differ")
    return changes


def _update(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    update.main(root)
    capsys.readouterr()  # what translators have left is test_lang_catalogs.py's business


def test_an_update_of_an_unchanged_checkout_changes_no_byte(project: Path, capsys) -> None:
    before = _snapshot(project)
    _update(project, capsys)
    changes = _changes(before, _snapshot(project))
    assert not changes, "the catalogs changed; run `make catalogs` and commit what it writes, or fix " \
                        "locales/update.py if it rewrote them for nothing:\n" + "\n".join(changes)


def test_code_moving_within_a_file_does_not_touch_the_catalogs(project: Path, capsys) -> None:
    _update(project, capsys)  # up to date with the code first, whatever the checkout
    before = _snapshot(project / "locales")
    for name in ("flows/cancel.py", "bot/admin.py"):
        path = project / name
        path.write_text("\n\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    _update(project, capsys)
    assert _changes(before, _snapshot(project / "locales")) == []
