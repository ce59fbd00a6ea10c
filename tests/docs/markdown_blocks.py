"""Reading the code blocks out of Markdown pages, and checking shell lines that cannot run here."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([\w+-]*)\s*$")
SETUP_OPEN = "<!-- doctest-setup"
#: Fence languages that are code, and run; every other fence must name what it holds.
PYTHON = frozenset({"python", "py"})
SHELL = frozenset({"bash", "sh", "shell", "console"})
NOT_CODE = frozenset({"text", "json", "toml"})


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its code, and hidden setup code before it."""

    page: Path
    line: int
    lang: str
    code: str
    setup: str = ""
    #: The ``text`` block right after this one (only blank lines between): what it prints.
    shown_output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _output_after(lines: list[str], start: int) -> str | None:
    """The body of a ``text`` fence starting at ``start`` after blank lines, else ``None``."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or lines[index].strip() != "```text":
        return None
    end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[index + 1 : end]) + "\n"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, each with the ``<!-- doctest-setup ... -->`` before it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    setup: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(SETUP_OPEN):
            end = next(i for i in range(index, len(lines)) if lines[i].rstrip().endswith("-->"))
            setup = [*lines[index + 1 : end]]
            index = end + 1
            continue
        fence = FENCE.match(line)
        if fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(
                Block(
                    page,
                    index + 1,
                    fence.group(1),
                    code,
                    "\n".join(setup),
                    _output_after(lines, end + 1),
                )
            )
            setup = []
            index = end + 1
            continue
        if line.strip():
            setup = []  # setup belongs to the block right after it
        index += 1
    return found


def shell_commands(code: str) -> list[str]:
    """The commands of a shell block: one per line, comments and blank lines dropped."""
    commands = []
    for raw in code.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _requirement_name(spec: str) -> str:
    return re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _installed(package: str) -> bool:
    """Whether ``package`` is installed here: a dependency of a dependency (torchvision)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(package)
    except PackageNotFoundError:
        return False
    return True


def check_pip(args: list[str]) -> None:
    """Every package a page says to install is this project (with extras it has) or one it uses."""
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    name = project["name"]
    extras = set(project["optional-dependencies"])
    declared = {_requirement_name(d) for d in project["dependencies"]}
    for group in project["optional-dependencies"].values():
        declared |= {_requirement_name(d) for d in group}
    assert args[:1] == ["install"], f"pip {' '.join(args)}: only 'pip install' is documented"
    skip_value = {"--index-url", "--extra-index-url", "-c", "-r", "--constraint"}
    tokens = iter(args[1:])
    for token in tokens:
        if token in skip_value:
            next(tokens)
            continue
        if token.startswith("-") and token not in ("-e",):
            continue
        if token == "-e":
            token = next(tokens)
        if token.startswith("."):
            requested = re.findall(r"\[([^\]]*)\]", token)
            wanted = {e.strip() for group in requested for e in group.split(",")}
            assert wanted <= extras, f"{token}: no such extra among {sorted(extras)}"
            continue
        package = _requirement_name(token)
        assert package != "img2img", (
            "the distribution is img2img-search: img2img is another project"
        )
        if package == name:
            wanted = (
                {e.strip() for e in re.findall(r"\[([^\]]*)\]", token)[0].split(",")}
                if "[" in token
                else set()
            )
            assert wanted <= extras, f"{token}: no such extra among {sorted(extras)}"
        else:
            assert package in declared or _installed(package), f"{token}: not used by {name}"


def check_make(args: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in args:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), (
            f"make {target}: no such target"
        )


def check_python_script(args: list[str]) -> None:
    """``python FILE --flags``: the file exists and defines every flag used."""
    script = ROOT / args[0]
    assert script.is_file(), f"python {args[0]}: no such file"
    source = script.read_text()
    for flag in (a.split("=")[0] for a in args[1:] if a.startswith("--")):
        assert f'"{flag}"' in source, f"{args[0]} has no option {flag}"


def check_pytest(args: list[str]) -> None:
    for path in (a for a in args if not a.startswith("-")):
        assert (ROOT / path.split("::")[0]).exists(), f"pytest {path}: no such test file"


def split_command(line: str) -> tuple[dict[str, str], list[str]]:
    """``VAR=x VAR2=y prog args`` -> ``({VAR: x, VAR2: y}, [prog, *args])``; ``export`` counts too."""
    words = shlex.split(line, comments=True)
    if words[:1] == ["export"]:
        words = words[1:]
    env: dict[str, str] = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words
