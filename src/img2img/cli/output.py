"""Where the command writes: results to stdout (rich tables, or JSON), notes and errors to stderr.

Keeping notes, progress and errors on stderr leaves stdout to the answer, so
``img2img search q.jpg --json | jq`` always reads clean JSON.
"""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING, Any

from img2img.cli.text import printable

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["PIPED_WIDTH", "Output", "to_json"]

#: Columns a table may take when stdout is not a terminal: wide enough that no
#: cell wraps, so each row stays on one line for the program reading it.
PIPED_WIDTH = 100_000


def to_json(data: Any) -> str:
    """``data`` as indented JSON text, non-ASCII kept readable."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


class Output:
    """The command's two streams.

    Args:
        as_json: print results as JSON instead of tables.
        quiet: no notes and no progress bars (errors and results still print).
        stdout, stderr: streams to write to; default ``sys.stdout``/``sys.stderr``
            at the time of writing.
    """

    def __init__(
        self,
        *,
        as_json: bool = False,
        quiet: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self._stdout = stdout
        self._stderr = stderr
        self._console: Console | None = None
        self._errors: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console on stdout, for results."""
        if self._console is None:
            from rich.console import Console

            console = Console(file=self._stdout, highlight=False, soft_wrap=False)
            if not console.is_terminal:
                # Piped into grep, sort or a file: one row a line, nothing wrapped or cut.
                console = Console(
                    file=self._stdout, highlight=False, soft_wrap=False, width=PIPED_WIDTH
                )
            self._console = console
        return self._console

    @property
    def errors(self) -> Console:
        """The rich console on stderr, for notes and progress."""
        if self._errors is None:
            from rich.console import Console

            self._errors = Console(file=self._stderr, stderr=True, highlight=False)
        return self._errors

    def show(self, *renderables: RenderableType) -> None:
        """Print tables or text for people, on stdout."""
        self.console.print(*renderables)

    def json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout."""
        print(to_json(data), file=self._stdout or sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """A one-line remark on stderr (what the command chose for you); quiet hides it."""
        if not self.quiet:
            self.errors.print(printable(text), style="dim", markup=False, soft_wrap=True)

    def error(self, text: str) -> None:
        """One line on stderr: ``img2img: error: ...``."""
        print(f"img2img: error: {printable(text)}", file=self._stderr or sys.stderr, flush=True)

    def interrupted(self, stored: int | None) -> None:
        """The one line printed on Ctrl-C: what was stored, which a new run will skip."""
        line = "img2img: interrupted"
        if stored is not None:
            line += f"; {stored} images were stored and are kept (run the command again to go on)"
        print(line, file=self._stderr or sys.stderr, flush=True)

    @property
    def progress_enabled(self) -> bool:
        """Progress bars show on a terminal, unless quiet."""
        return not self.quiet and self.errors.is_terminal
