"""The code's shape: layers, no import cycles, small files.

The layers (pyproject.toml, ``[tool.importlinter]``): bot above locales above flows above
core above storage; a module may import from its own layer or a lower one, never a higher
one. Inside each package no two modules import each other, even through others or from
inside a function. And no Python file grows past 400 lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
CODE_DIRS = ("bot", "flows", "core", "storage", "locales", "tests", "bench")


def test_imports_keep_the_layers_and_have_no_cycles():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_no_python_file_is_over_400_lines():
    too_long = {}
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, f"files over {MAX_LINES} lines: {too_long}"
