"""The book's hand-written text holds no control characters. LaTeX typed into a Python string with single
backslashes leaves a tab, a form feed or a line break where ``\\texttt``, ``\\frac`` or ``\\ne`` stood, and
the page then shows a broken equation instead of failing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\t]")  # every control character but the line break


def test_book_sources_hold_no_control_characters():
    files = [*sorted(ROOT.glob("book/**/*.md")), *sorted(ROOT.glob("notebooks/**/*.py")), ROOT / "README.md"]
    assert files
    bad = [f"{path.relative_to(ROOT)}:{number}" for path in files
           for number, line in enumerate(path.read_text().splitlines(), 1) if CONTROL.search(line)]
    assert not bad, f"control characters (a LaTeX backslash lost to a Python escape?) at {bad}"
