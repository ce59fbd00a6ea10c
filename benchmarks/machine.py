"""What every benchmark prints beside its figures: the CPU's vector extensions.

Speeds differ from one CPU kind to the next (AVX-512 with VNNI on one machine,
AVX2 only on another), so a figure is only read together with these.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["cpu_flags", "seen_flags"]

_FLAGS = ("avx2", "avx512f", "avx512_vnni", "amx_tile")


def cpu_flags() -> str:
    """The vector extensions of this CPU among avx2, avx512f, avx512_vnni and amx_tile."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = set(re.findall(r"\b(" + "|".join(_FLAGS) + r")\b", text))
    return " ".join(sorted(found)) or "none of " + "/".join(_FLAGS)


def seen_flags() -> str:
    """The vector extensions CPUID shows this process (what the math libraries choose by).

    Differs from :func:`cpu_flags` under ``benchmarks/as_avx2.py`` or in a VM that hides some.
    """
    from img2img.embedders.cpu_features import seen_vector_flags

    return " ".join(seen_vector_flags()) or "none"
