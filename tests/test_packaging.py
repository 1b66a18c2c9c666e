"""pyproject.toml declares every file an installed copy needs: each folder of the five packages
is a package, and each data file (catalogs, models, migrations, plans) is package data. A folder
missing from the packages is what setuptools warns about ("Package 'locales.ar.LC_MESSAGES' is
absent from the `packages` configuration") and may leave out of a wheel."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("bot", "flows", "core", "storage", "locales")


def _setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _shipped_files() -> list[Path]:
    return [path for top in TOP for path in (ROOT / top).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"]


def test_every_folder_is_a_package_and_every_data_file_is_package_data() -> None:
    setuptools = pytest.importorskip("setuptools")
    config = _setuptools_config()
    find = config["packages"]["find"]
    assert find.get("namespaces") is True  # folders with data only are packages too
    packages = set(setuptools.find_namespace_packages(str(ROOT), include=find["include"], exclude=find["exclude"]))
    patterns = config["package-data"]["*"]
    missing_packages, missing_data = set(), set()
    for path in _shipped_files():
        package = ".".join(path.parent.relative_to(ROOT).parts)
        if package not in packages:
            missing_packages.add(package)
        if path.suffix != ".py" and not any(fnmatch(path.name, pattern) for pattern in patterns):
            missing_data.add(str(path.relative_to(ROOT)))
    assert not missing_packages, sorted(missing_packages)
    assert not missing_data, sorted(missing_data)
    assert not any(p.startswith("tests") or p.endswith("__pycache__") for p in packages)


def test_the_files_the_bot_reads_at_run_time_are_covered() -> None:
    shipped = {str(path.relative_to(ROOT)) for path in _shipped_files()}
    for needed in ("locales/fa/LC_MESSAGES/messages.mo", "locales/data/intent_model.npz", "locales/data/lang_model.npz",
                   "locales/data/lang_words.toml", "locales/data/intents.toml", "storage/migrations/001_initial.sql",
                   "core/plans.toml"):
        assert needed in shipped, needed
