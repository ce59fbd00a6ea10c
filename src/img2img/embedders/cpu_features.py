"""The vector extensions this process sees, asked of the CPU itself (the CPUID instruction).

Not read from ``/proc/cpuinfo``: that file describes the machine, while the
math libraries (ONNX Runtime, OpenVINO, oneDNN, OpenBLAS) choose their kernels
from CPUID inside the process, and a virtual machine or an emulated CPU can
show a process less than the machine has. Which runtime is fastest depends on
these, so they key the cached choice of one (:mod:`img2img.embedders.clip_routes`).

CPUID is run from a few bytes of machine code on x86-64 Linux and macOS; on
other machines, or where executable memory is refused, the answer falls back
to ``/proc/cpuinfo`` or the platform's name.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import platform
import re
import sys
from pathlib import Path

__all__ = ["VECTOR_FLAGS", "cpu_key", "seen_vector_flags"]

#: ``(name as /proc/cpuinfo spells it, leaf, subleaf, register 0-3 = EAX-EDX, bit)``.
_BITS = (
    ("fma", 1, 0, 2, 12),
    ("avx", 1, 0, 2, 28),
    ("avx2", 7, 0, 1, 5),
    ("avx512f", 7, 0, 1, 16),
    ("avx512bw", 7, 0, 1, 30),
    ("avx512vl", 7, 0, 1, 31),
    ("avx512_vnni", 7, 0, 2, 11),
    ("avx512_fp16", 7, 0, 3, 23),
    ("amx_bf16", 7, 0, 3, 22),
    ("amx_tile", 7, 0, 3, 24),
    ("amx_int8", 7, 0, 3, 25),
    ("avx_vnni", 7, 1, 0, 4),
    ("avx512_bf16", 7, 1, 0, 5),
)
#: Every flag :func:`seen_vector_flags` may report, in that order.
VECTOR_FLAGS = tuple(name for name, *_ in _BITS)

# void cpuid(uint32 leaf, uint32 subleaf, uint32 out[4]), System V calling convention:
# push rbx; mov eax,edi; mov ecx,esi; mov r8,rdx; cpuid; mov [r8],eax; mov [r8+4],ebx;
# mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
_CODE = bytes.fromhex("5389f889f14989d00fa241890041895804418948084189500c5bc3")


@functools.cache
def _cpuid_function() -> tuple[mmap.mmap, ctypes._CFuncPtr] | None:  # type: ignore[name-defined]
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64") or sys.platform not in ("linux", "darwin"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):  # executable memory refused
        return None
    page.write(_CODE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    prototype = ctypes.CFUNCTYPE(
        None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)
    )
    return page, prototype(address)  # the page is kept alive with the function


def _cpuid(leaf: int, subleaf: int) -> tuple[int, int, int, int] | None:
    found = _cpuid_function()
    if found is None:
        return None
    registers = (ctypes.c_uint32 * 4)()
    found[1](leaf, subleaf, registers)
    return registers[0], registers[1], registers[2], registers[3]


def _from_cpuid() -> list[str] | None:
    top = _cpuid(0, 0)
    if top is None:
        return None
    highest = top[0]
    answers: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    flags = []
    for name, leaf, subleaf, register, bit in _BITS:
        if leaf > highest:
            continue
        if (leaf, subleaf) not in answers:
            answers[leaf, subleaf] = _cpuid(leaf, subleaf) or (0, 0, 0, 0)
        if answers[leaf, subleaf][register] >> bit & 1:
            flags.append(name)
    return flags


def _from_cpuinfo() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = set(re.findall(r"\b(" + "|".join(VECTOR_FLAGS) + r")\b", text))
    return [name for name in VECTOR_FLAGS if name in found]


@functools.cache
def seen_vector_flags() -> tuple[str, ...]:
    """The vector extensions among :data:`VECTOR_FLAGS` that CPUID reports to this process."""
    flags = _from_cpuid()
    return tuple(flags if flags is not None else _from_cpuinfo())


def cpu_key() -> str:
    """A short name for the kind of CPU this process sees: machine, cores and vector flags."""
    from img2img.cores import available_cores

    flags = "+".join(seen_vector_flags()) or "-"
    return f"{platform.machine()}-{available_cores()}c-{flags}"
