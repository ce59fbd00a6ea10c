"""docs/security.md names the test behind each guarantee: every one it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "security.md"


def test_every_test_the_security_page_names_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    files = sorted(set(re.findall(r"tests/[\w/]+\.py", text)))
    assert files
    defined: set[str] = set()
    for name in files:
        path = ROOT / name
        assert path.is_file(), name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    named = set(re.findall(r"::(test_\w+)", text))
    assert len(named) >= 30
    assert sorted(named - defined) == []
