"""docs/concepts.md's module map names every module of the package, in its folder."""

from __future__ import annotations

from pathlib import Path

import img2img

PACKAGE = Path(img2img.__file__).parent
CONCEPTS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


def _module_map() -> str:
    text = CONCEPTS.read_text(encoding="utf-8")
    start = text.index("```text\nsrc/img2img/")
    return text[start : text.index("```\n", start + 8)]


def test_every_module_is_in_the_module_map() -> None:
    shown = _module_map()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(PACKAGE)
        folders = [f"{part}/" for part in relative.parts[:-1]]
        if path.name not in shown or any(folder not in shown for folder in folders):
            missing.append(str(relative))
    assert missing == []


def test_the_map_names_no_module_that_is_gone() -> None:
    shown = _module_map()
    names = {path.name for path in PACKAGE.rglob("*.py")}
    listed = {word.strip("(),;:") for word in shown.split() if word.strip("(),;:").endswith(".py")}
    assert sorted(listed - names) == []
