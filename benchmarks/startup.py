"""Install size and start-up times of the base install (no torch), as ratios to ``img2img info``.

Makes a fresh virtual environment, installs this clone into it with pip (no
extras), and reports: the environment's size and whether any torch, triton or
nvidia package came in; the time of ``pip install``; then, in that
environment, the cold times (a new process each, medians of ``--rounds``) of
``python -c "import img2img"``, ``img2img --help``, ``info``, ``search`` and
``postings`` on a store of ``--images`` pictures made with
``--embedder efficientnet add`` (its time is reported too). The model cache is
built once before the timed runs, as on any machine after the first command.

    .venv/bin/python benchmarks/startup.py [--images 1000] [--rounds 3] [--venv DIR] [--reuse]

Run it with a Python that has numpy and Pillow (it draws the store's pictures);
the environment it measures is made from that Python's base interpreter.

``--venv DIR --reuse`` times an existing environment instead of making one
(the install figures are then left out).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_flags

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"size_mb": 500.0, "search_s": 1.0, "search_ratio": 3.0}


def folder_size_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 1e6


def heavy_packages(venv: Path) -> list[str]:
    site = next(venv.glob("lib/python*/site-packages"))
    return sorted(
        entry.name
        for entry in site.iterdir()
        if re.match(r"(torch|triton|nvidia|torchvision)([-_.]|$)", entry.name)
    )


def make_venv(venv: Path) -> float:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(ROOT),
        ],
        check=True,
    )
    return time.perf_counter() - started


def make_pictures(folder: Path, count: int) -> Path:
    """``count`` distinct small pictures (gradients, noise and a square); returns one query."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    for index in range(count):
        base = np.add.outer(ramp * rng.random(), ramp[::-1] * rng.random())[..., None]
        pixels = np.clip(base + rng.normal(0, 30, (96, 96, 3)) + rng.integers(0, 120, 3), 0, 255)
        x, y = rng.integers(0, 60, 2)
        pixels[y : y + 30, x : x + 30] = rng.integers(0, 256, 3)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"p{index:04d}.png")
    return folder / "p0007.png"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)`` of one run of ``command`` in a new process.

    CPU time (user + system) is reported beside wall time: on a shared machine
    the wall clock also counts the time other people's work held the cores.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="time an existing --venv")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="img2img-startup-"))
    venv = args.venv or work / "venv"
    rows: list[tuple[str, str]] = []
    try:
        if not args.reuse:
            if venv.exists():
                shutil.rmtree(venv)
            install = make_venv(venv)
            rows.append(("pip install . (fresh venv, from this clone)", f"{install:.1f} s"))
        size = folder_size_mb(venv)
        heavy = heavy_packages(venv)
        rows.append(("environment size", f"{size:.0f} MB (target <= {TARGETS['size_mb']:.0f})"))
        rows.append(("torch / triton / nvidia packages", ", ".join(heavy) or "none"))

        env = {
            **os.environ,
            "IMG2IMG_CACHE_DIR": str(work / "cache"),
            "HOME": str(work / "home"),
            "PYTHONPATH": "",
        }
        python, cli = str(venv / "bin/python"), str(venv / "bin/img2img")
        store = str(work / "store.sqlite3")
        query = make_pictures(work / "pictures", args.images)
        add, add_cpu = timed(
            [cli, "--store", store, "--embedder", "efficientnet", "add", str(work / "pictures")],
            env,
        )
        rows.append(
            (
                f"add {args.images} pictures (first run builds the model)",
                f"{add:.1f} s, CPU {add_cpu:.1f} s",
            )
        )

        commands = {
            "import img2img": [python, "-c", "import img2img"],
            "img2img --help": [cli, "--help"],
            "info": [cli, "--store", store, "info"],
            "search": [cli, "--store", store, "search", str(query)],
            "postings": [cli, "--store", store, "postings", str(query)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):  # interleaved, so a noisy moment hits every command alike
            for name, command in commands.items():
                wall, cpu = timed(command, env)
                times[name].append(wall)
                cpus[name].append(cpu)
        medians = {name: statistics.median(values) for name, values in times.items()}
        cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
        for name, value in medians.items():
            rows.append(
                (
                    f"cold {name}",
                    f"{value:.2f} s ({value / medians['info']:.2f}x info), "
                    f"CPU {cpu_medians[name]:.2f} s ({cpu_medians[name] / cpu_medians['info']:.2f}x)",
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"CPU flags: {cpu_flags()}; cores: {os.cpu_count()}; python {sys.version.split()[0]}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    search = medians["search"]
    ok = (
        search <= TARGETS["search_s"]
        and search / medians["info"] <= TARGETS["search_ratio"]
        and size <= TARGETS["size_mb"]
        and not heavy
    )
    print(
        f"search {search:.2f} s, {search / medians['info']:.2f}x info, env {size:.0f} MB "
        f"(targets <= 1.0 s, <= 3x, <= 500 MB, no torch): {'MET' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
