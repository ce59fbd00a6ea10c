"""The ``img2img`` command's exit codes, and the one rule that picks them for a run.

====  =========================================================================
code  meaning
====  =========================================================================
0     everything asked for was done
1     an error: nothing useful was done (every item failed, a bad store, no key…)
2     the command line itself is wrong (unknown option, ``-k 0``…)
3     finished, but some items failed; the rest were done
10    ``watch check``: something is new or gone since the last check
130   interrupted (Ctrl-C)
====  =========================================================================
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "UsageError", "exit_code_for"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    NEW = 10
    INTERRUPTED = 130


class UsageError(Exception):
    """A command line that parses but asks for something impossible; exits with 2."""


def exit_code_for(done: int, failed: int) -> ExitCode:
    """0 when nothing failed, 3 when some items failed and some were done, 1 when all failed."""
    if failed == 0:
        return ExitCode.OK
    return ExitCode.PARTIAL if done > 0 else ExitCode.ERROR
