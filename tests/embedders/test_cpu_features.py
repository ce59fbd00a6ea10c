"""The vector extensions CPUID shows the process, and the AVX2 view the benchmarks run in."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from img2img.embedders.cpu_features import VECTOR_FLAGS, cpu_key, seen_vector_flags

ROOT = Path(__file__).resolve().parents[2]
ON_X86_LINUX = sys.platform == "linux" and platform.machine() == "x86_64"


def test_flags_are_named_as_proc_cpuinfo_names_them() -> None:
    flags = seen_vector_flags()
    assert set(flags) <= set(VECTOR_FLAGS)
    assert list(flags) == [name for name in VECTOR_FLAGS if name in flags]
    assert cpu_key().startswith(platform.machine())


@pytest.mark.skipif(not ON_X86_LINUX, reason="reads /proc/cpuinfo of x86-64 Linux")
def test_cpuid_agrees_with_the_kernel_on_avx2_and_avx512() -> None:
    words = set(Path("/proc/cpuinfo").read_text().split())
    for flag in ("avx2", "avx512f"):
        assert (flag in seen_vector_flags()) == (flag in words), flag


def _can_fault_cpuid() -> bool:
    return (
        ON_X86_LINUX
        and shutil.which("gcc") is not None
        and "cpuid_fault" in Path("/proc/cpuinfo").read_text()
    )


@pytest.mark.skipif(not _can_fault_cpuid(), reason="needs gcc and a CPU with CPUID faulting")
def test_the_avx2_view_hides_avx512_from_the_process_and_its_children() -> None:
    show = (
        "import subprocess, sys\n"
        "from img2img.embedders.cpu_features import seen_vector_flags\n"
        "print(' '.join(seen_vector_flags()))\n"
        "code = 'from img2img.embedders.cpu_features import seen_vector_flags as s; print(*s())'\n"
        "subprocess.run([sys.executable, '-c', code], check=True)\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "as_avx2.py"), "--", sys.executable, "-c", show],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    own, child = done.stdout.splitlines()
    for seen in (own.split(), child.split()):
        assert "avx2" in seen
        assert not any(flag.startswith(("avx512", "amx")) or flag == "avx_vnni" for flag in seen)
