"""The repository documents itself: no file cites a document the repository does not hold,
and no file names a path on somebody's machine.

Every text file git tracks is read (binary ones, such as the compiled catalogs and the
models, are skipped):

- no mention of an outside product document: the capitalised short name it was cited by,
  the lower-case phrases that cite it, or the outside documents' file names; the
  repository's own documents are under docs/;
- no path into a sibling directory of the checkout (two dots, a slash, a sibling's name);
- in code, catalogs, documents and configuration, no absolute path of a machine
  (a home or temporary directory, a Windows user directory, …). A path that is an example
  or a fixed part of a tool's use is allowed only where ALLOWED names it (this file, which
  has to spell them out there, is not searched for them).

The forbidden words are spelled in pieces below, so this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_NAME = "SP" + "EC"
DOCUMENT = re.compile(
    rf"(?-i:\b{_NAME}\b)"  # its short name, as it was cited ("… section 2", "§1")
    r"|\bthe spe" r"c\b|\bspe" r"c's\b"  # the lower-case phrases that cited it
    r"|\b" + _NAME + r"\.md\b|\bARCHITECTURE\.md\b",  # the outside documents' file names
    re.IGNORECASE,
)
SIBLING = re.compile(r"\.\./+(?:\.\./+)*(?:shar" r"ed|work|home|tmp)\b")
# Roots of paths that belong to one machine; a hostname or a path component before the slash
# ("https://example.org/home/", "data/tmp/") is not an absolute path.
MACHINE = re.compile(
    r"(?<![\w.~-])/(?:wor" r"k|home|tmp|root|Users|mnt|media|opt|srv|private|var/folders)/"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\"
)
MACHINE_SUFFIXES = {
    ".py", ".po", ".pot", ".md", ".toml", ".json", ".cfg", ".ini", ".yml", ".yaml", ".sql", ".sh",
    ".txt", ".example",
}
MACHINE_NAMES = {"Makefile", "run"}  # files without a suffix: the Makefile, .ci/run

# (file, text on the line): the absolute paths that are meant to be there, named by what
# surrounds them so this file holds none itself.
ALLOWED = {
    # The form of an absolute SQLite path, explained where DATABASE_URL is parsed and documented.
    ("storage/db.py", "sqlite:////"),
    ("docs/storage.md", "sqlite:////"),
    # CI's throwaway PostgreSQL keeps its data in a fresh temporary directory.
    (".ci/postgres.sh", "mktemp -d "),
}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in out.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _where(path: Path, number: int, line: str) -> str:
    return f"{path.relative_to(ROOT).as_posix()}:{number}: {line.strip()[:160]}"


def _scan(check) -> list[str]:
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if check(path, line):
                found.append(_where(path, number, line))
    return found


def test_no_file_cites_a_document_the_repository_does_not_hold() -> None:
    found = _scan(lambda path, line: DOCUMENT.search(line) is not None)
    assert not found, (
        "cite the repository's own documents (docs/core-rules.md, docs/flows.md, docs/bot.md, "
        "docs/languages.md, docs/storage.md, docs/settings.md) instead:\n" + "\n".join(found)
    )


def test_no_file_points_outside_the_checkout() -> None:
    found = _scan(lambda path, line: SIBLING.search(line) is not None)
    assert not found, "a path outside the repository:\n" + "\n".join(found)


def _machine_path(path: Path, line: str) -> bool:
    if path.suffix not in MACHINE_SUFFIXES and path.name not in MACHINE_NAMES:
        return False
    if path == Path(__file__).resolve():
        return False  # its own patterns and examples are split so they never match
    if not MACHINE.search(line):
        return False
    name = path.relative_to(ROOT).as_posix()
    return not any(name == allowed and text in line for allowed, text in ALLOWED)


def test_no_file_names_a_path_on_a_machine() -> None:
    found = _scan(_machine_path)
    assert not found, (
        "an absolute path of a machine: use a path relative to the project, or, for an example "
        "that must be absolute, add it to ALLOWED here:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("line", "document", "machine"),
    [
        ('"""Cancel renewal (' + _NAME + ' section 2, flow 1)."""', True, False),
        ("Proration is the spe" + "c's formula", True, False),
        ("see " + _NAME + ".md", True, False),
        ('"""Cancel renewal (docs/flows.md, flow 1)."""', False, False),
        ("for spec in args.user:", False, False),  # a variable, not a document
        ("specific to one user", False, False),
        ("#: /wor" + "k/main/bot/admin.py:50", False, True),
        ("open('/tm" + "p/x.db')", False, True),
        ("C:\\Users\\me\\bot", False, True),
        ("https://example.org/home/page", False, False),
        ("data/tmp/cache and locales/fa/LC_MESSAGES", False, False),
        ("sqlite:///data/bot.db", False, False),
    ],
)
def test_the_patterns_tell_mentions_from_ordinary_text(line: str, document: bool, machine: bool) -> None:
    assert (DOCUMENT.search(line) is not None) is document
    assert (MACHINE.search(line) is not None) is machine


def test_sibling_paths_are_recognised() -> None:
    assert SIBLING.search("see ../shar" "ed/design/notes.md")
    assert not SIBLING.search("the ../ of a relative import")
