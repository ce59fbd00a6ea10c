"""ONNX Runtime or OpenVINO for the base install: speed, start time and size, measured.

Runs the EfficientNet-Lite0 graph the offline embedder builds (no torch) with
each runtime on the same prepared pixels, and reports for each: the time to
import the package and ready the model in a fresh process (what every
command pays), images per second at batch 8 (medians of interleaved rounds),
the cosine of its vectors to ONNX Runtime's, and the size of the installed
package. Needs both packages installed (``pip install 'img2img-search[openvino]'``).

    python benchmarks/runtime_choice.py [--images 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from machine import cpu_flags

from img2img.cores import available_cores
from img2img.embedders import runtime as rt
from img2img.embedders.efficientnet import onnx_model_path

START = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from img2img.embedders import runtime as rt
path, name = Path(sys.argv[1]), sys.argv[2]
if name == "openvino":
    forward = rt.openvino_forward(path, 2, Path(sys.argv[3]))
else:
    forward = rt.onnxruntime_forward(path, 2)
import numpy as np
forward(np.zeros((1, 3, 224, 224), dtype=np.float32))
print(time.perf_counter() - started)
"""


def package_mb(distribution: str) -> float:
    files = metadata.files(distribution) or []
    return (
        sum(Path(str(f.locate())).stat().st_size for f in files if Path(str(f.locate())).is_file())
        / 1e6
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        path = onnx_model_path(cache)
        rng = np.random.default_rng(0)
        pixels = rng.uniform(-1, 1, (args.images, 3, 224, 224)).astype(np.float32)
        cores = available_cores()
        forwards = {
            "onnxruntime": rt.onnxruntime_forward(path, cores),
            "openvino": rt.openvino_forward(path, cores, cache),
        }
        reference = forwards["onnxruntime"](pixels[:8])
        rates: dict[str, list[float]] = {name: [] for name in forwards}
        starts: dict[str, list[float]] = {name: [] for name in forwards}
        for _ in range(args.rounds):
            for name, forward in forwards.items():
                time.sleep(0.2)
                started = time.perf_counter()
                rt.run_in_batches(forward, list(pixels), 8)
                rates[name].append(args.images / (time.perf_counter() - started))
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
                done = subprocess.run(
                    [sys.executable, "-c", START, str(path), name, str(cache)],
                    capture_output=True, text=True, check=True, env=env,
                )  # fmt: skip
                starts[name].append(float(done.stdout.strip().splitlines()[-1]))
        print(f"CPU vector extensions: {cpu_flags()}; {cores} cores; load {os.getloadavg()[0]:.1f}")
        print(
            f"{'runtime':12} {'img/s b8':>9} {'x ort':>6} {'start s':>8} {'package MB':>11} {'cosine':>7}"
        )
        base = statistics.median(rates["onnxruntime"])
        for name, forward in forwards.items():
            rate = statistics.median(rates[name])
            rows = forward(pixels[:8])
            cosine = np.min(
                np.sum(rows * reference, axis=1)
                / (np.linalg.norm(rows, axis=1) * np.linalg.norm(reference, axis=1))
            )
            print(
                f"{name:12} {rate:9.1f} {rate / base:6.2f} {statistics.median(starts[name]):8.2f} "
                f"{package_mb(name):11.0f} {cosine:7.4f}"
            )


if __name__ == "__main__":
    main()
