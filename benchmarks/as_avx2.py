"""Run a command as on a CPU with AVX2 but no AVX-512 (no VNNI, BF16 or AMX either).

Builds ``benchmarks/avx2_view.c`` with gcc into a temporary folder and runs
the command with it preloaded: every CPUID in the process (and in the
processes it starts) answers without the AVX-512 family, so ONNX Runtime,
OpenVINO, oneDNN, PyTorch and OpenBLAS choose their AVX2 kernels. It needs a
Linux CPU with CPUID faulting (``cpuid_fault`` in /proc/cpuinfo).

    python benchmarks/as_avx2.py -- python benchmarks/embedder_speed.py --model clip
    python benchmarks/as_avx2.py --report     # what each library sees, with and without

``--report`` prints, for the real CPU and for the AVX2 view: the flags CPUID
shows the process, torch's CPU capability, the ISA oneDNN and OpenVINO chose,
numpy's SIMD and OpenBLAS core, and ONNX Runtime's speed on a large fp32 GEMM
(MLAS picks its kernels from CPUID, so the view shows as a slower GEMM).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("avx2_view.c")

REPORT = r"""
import io, json, os, re, subprocess, sys, time, contextlib
import numpy as np
from img2img.embedders.cpu_features import seen_vector_flags
print(f"  CPUID seen by the process: {' '.join(seen_vector_flags())}")
import torch
print(f"  torch.backends.cpu.get_cpu_capability(): {torch.backends.cpu.get_cpu_capability()}")
conv = torch.nn.Conv2d(64, 64, 3)
with torch.no_grad():
    conv(torch.zeros(1, 64, 56, 56))
sys.stdout.flush()
import openvino
core = openvino.Core()
print(f"  OpenVINO CPU capabilities: {' '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}")
from openvino import opset13 as ops
x = ops.parameter([1, 32, 28, 28], np.float32)
w = ops.constant(np.ones((32, 32, 3, 3), np.float32))
ov_model = openvino.Model([ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])], [x])
compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
kinds = sorted({str(op.get_rt_info()["primitiveType"].astype(str)) for op in compiled.get_runtime_model().get_ops()})
kinds = [kind for kind in kinds if "unknown" not in kind]
print(f"  OpenVINO kernel for a convolution: {' '.join(kinds)}")
from threadpoolctl import threadpool_info
for pool in threadpool_info():
    if pool.get("internal_api") == "openblas" and "numpy" in pool.get("filepath", ""):
        print(f"  numpy's OpenBLAS core: {pool.get('architecture')}")
from numpy._core._multiarray_umath import __cpu_features__ as features
print(f"  numpy SIMD: AVX2 {features.get('AVX2')}, AVX512F {features.get('AVX512F')}, AVX512_SKX {features.get('AVX512_SKX')}")
import onnx, onnxruntime as ort
from onnx import TensorProto, helper
n = 1024
graph = helper.make_graph(
    [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
    [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    [helper.make_tensor("b", TensorProto.FLOAT, [n, n], np.random.default_rng(0).standard_normal(n * n).astype(np.float32))],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
a = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
session.run(None, {"a": a})
times = []
for _ in range(7):
    started = time.perf_counter(); session.run(None, {"a": a}); times.append(time.perf_counter() - started)
best = min(times)
print(f"  ONNX Runtime MLAS fp32 GEMM {n}^3, 1 thread: {2 * n**3 / best / 1e9:.1f} GFLOP/s (best of 7)")
graph = helper.make_graph(
    [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "igemm",
    [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])],
    [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])],
    [helper.make_tensor("b", TensorProto.INT8, [n, n], np.random.default_rng(0).integers(-100, 100, n * n).astype(np.int8))],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
a = np.random.default_rng(1).integers(0, 255, (n, n)).astype(np.uint8)
session.run(None, {"a": a})
times = []
for _ in range(7):
    started = time.perf_counter(); session.run(None, {"a": a}); times.append(time.perf_counter() - started)
print(f"  ONNX Runtime MLAS int8 GEMM {n}^3, 1 thread: {2 * n**3 / min(times) / 1e9:.1f} GOP/s (best of 7)")
"""


def build_library(folder: Path) -> Path:
    """Compile the preload library into ``folder``; raises SystemExit with the reason."""
    if "cpuid_fault" not in Path("/proc/cpuinfo").read_text():
        raise SystemExit("this CPU or kernel has no CPUID faulting (cpuid_fault): no AVX2 view")
    library = folder / "avx2_view.so"
    done = subprocess.run(
        ["gcc", "-O2", "-Wall", "-shared", "-fPIC", "-o", str(library), str(SOURCE), "-ldl"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"gcc failed:\n{done.stderr}")
    return library


def avx2_environment(library: Path) -> dict[str, str]:
    """The environment that runs a program in the AVX2 view."""
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    # OpenBLAS names AMD cores by family; Haswell is its AVX2 kernel set.
    return {**os.environ, "LD_PRELOAD": preload, "OPENBLAS_CORETYPE": "Haswell"}


def report(library: Path) -> None:
    source = str(Path(__file__).resolve().parents[1] / "src")
    python_path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH", "")]))
    for label, env in (
        ("the real CPU", dict(os.environ)),
        ("the AVX2 view", avx2_environment(library)),
    ):
        env = {**env, "PYTHONPATH": python_path, "ONEDNN_VERBOSE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", REPORT], env=env, capture_output=True, text=True
        )
        print(f"{label}:")
        for line in done.stdout.splitlines():
            if line.startswith("  "):
                print(line)
        isa = [
            part
            for line in done.stdout.splitlines()
            if line.startswith("onednn_verbose") and "isa:" in line
            for part in line.split(",")
            if part.startswith("isa:")
        ]
        print(f"  oneDNN (inside torch): {isa[0] if isa else 'no verbose line'}")
        if done.returncode != 0:
            print(done.stderr[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--report", action="store_true", help="what each library sees, both views")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and its arguments")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    with tempfile.TemporaryDirectory(prefix="avx2-view-") as folder:
        library = build_library(Path(folder))
        if args.report:
            report(library)
        if not command:
            return 0
        return subprocess.run(command, env=avx2_environment(library)).returncode


if __name__ == "__main__":
    sys.exit(main())
