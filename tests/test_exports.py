"""The public surface: what ``img2img`` exports, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys
import types

import img2img


def test_all_is_sorted_and_complete() -> None:
    assert img2img.__all__ == sorted(img2img.__all__)
    public = {
        name
        for name, value in vars(img2img).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(img2img.__all__) - {"__version__"}


def test_every_export_resolves() -> None:
    for name in img2img.__all__:
        assert getattr(img2img, name) is not None


def test_import_loads_no_heavy_modules() -> None:
    heavy = (
        "torch",
        "open_clip",
        "pinecone",
        "serpapi",
        "timm",
        "skimage",
        "onnxruntime",
        "openvino",
        "onnx",
        "cv2",
        "tokenizers",
    )
    code = f"import sys, img2img\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_version_matches_package_metadata() -> None:
    from importlib.metadata import version

    assert img2img.__version__ == version("img2img-search")
