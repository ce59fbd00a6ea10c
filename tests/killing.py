"""Killing a writer process at a moment set by the clock, for the stores' crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def run_and_kill(script: str, args: list[str], first: int, delay: float) -> int:
    """Run ``python -c script *args``, a writer that prints each batch it has committed;
    SIGKILL it ``delay`` s after its first line; return the last batch it acknowledged
    (``first - 1`` if none)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acked = first - 1
    try:
        acked = int(child.stdout.readline())
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        for line in child.stdout:
            acked = int(line)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return acked
