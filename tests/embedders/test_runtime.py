"""The fast runtime: exported models cached once, rebuilt when broken, and as good as fp32."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ClipEmbedder, ConfigurationError, EfficientNetEmbedder
from img2img.embedders.runtime import MIN_COSINE, resolve_device
from img2img.testing.contracts import sample_images


def built(cache: Path) -> list[Path]:
    return sorted(cache.rglob("meta.json"))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_the_export_is_built_once_and_reused(tiny_clip_name: str, cache: Path) -> None:
    first = ClipEmbedder(tiny_clip_name, pretrained=None, runtime="onnxruntime", cache_dir=cache)
    vectors = first.embed_images(sample_images())
    (meta,) = built(cache)
    stamp = meta.stat().st_mtime_ns
    second = ClipEmbedder(tiny_clip_name, pretrained=None, runtime="onnxruntime", cache_dir=cache)
    np.testing.assert_allclose(second.embed_images(sample_images()), vectors, atol=1e-6)
    assert built(cache) == [meta]
    assert meta.stat().st_mtime_ns == stamp
    assert json.loads(meta.read_text())["model_id"] == first.model_id


@pytest.mark.parametrize("damage", ["garbage model", "truncated model", "stale meta"])
def test_a_broken_or_stale_cache_is_rebuilt(tiny_clip_name: str, cache: Path, damage: str) -> None:
    reference = ClipEmbedder(tiny_clip_name, pretrained=None, runtime="torch")
    expected = reference.embed_images(sample_images())
    ClipEmbedder(tiny_clip_name, pretrained=None, runtime="onnxruntime", cache_dir=cache)._visual()
    (meta,) = built(cache)
    model = next(meta.parent.glob("*.onnx"))
    if damage == "garbage model":
        model.write_bytes(b"this is not an onnx file")
    elif damage == "truncated model":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    else:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": -1}))
    again = ClipEmbedder(tiny_clip_name, pretrained=None, runtime="onnxruntime", cache_dir=cache)
    vectors = again.embed_images(sample_images())
    assert np.min(np.sum(vectors * expected, axis=1)) >= MIN_COSINE
    assert json.loads(meta.read_text())["format"] != -1
    assert model.stat().st_size > 1000


def test_other_weights_get_their_own_export(
    tiny_clip: ClipEmbedder, cache: Path, tmp_path: Path
) -> None:
    import torch

    state = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in tiny_clip._load()[0].state_dict().items()}  # fmt: skip
    torch.save(state, tmp_path / "perturbed.pt")
    for pretrained in (None, tmp_path / "perturbed.pt"):
        ClipEmbedder(
            tiny_clip.model_name, pretrained=pretrained, model_id="same-id", runtime="onnxruntime",
            cache_dir=cache,
        )._visual()  # fmt: skip
    assert len(built(cache)) == 2


#: Set in the process of its own that the OpenVINO case runs in (see below).
OPENVINO_HERE = "IMG2IMG_TEST_OPENVINO_HERE"


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_fast_runtimes_agree_with_fp32_on_real_photos(
    runtime: str,
    efficientnet: EfficientNetEmbedder,
    tiny_clip_name: str,
    photos: dict[str, Image.Image],
) -> None:
    if runtime == "openvino" and not os.environ.get(OPENVINO_HERE):
        pytest.skip("runs in a process of its own: test_openvino_agrees_in_a_process_of_its_own")
    images = list(photos.values())
    exact = EfficientNetEmbedder(runtime="torch")
    fast = EfficientNetEmbedder(runtime=runtime)  # type: ignore[arg-type]
    assert fast.model_id == exact.model_id
    cosines = np.sum(fast.embed_images(images) * exact.embed_images(images), axis=1)
    assert cosines.min() >= MIN_COSINE, (fast.runtime_in_use, cosines.min())
    clip_exact = ClipEmbedder(tiny_clip_name, pretrained=None, runtime="torch")
    clip_fast = ClipEmbedder(tiny_clip_name, pretrained=None, runtime=runtime)  # type: ignore[arg-type]
    assert clip_fast.model_id == clip_exact.model_id
    cosines = np.sum(clip_fast.embed_images(images) * clip_exact.embed_images(images), axis=1)
    assert cosines.min() >= MIN_COSINE, (clip_fast.runtime_in_use, cosines.min())


def test_auto_picks_a_compiled_runtime_on_this_cpu(efficientnet: EfficientNetEmbedder) -> None:
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    if resolve_device("auto") == "cpu":
        assert efficientnet.runtime_in_use == "onnxruntime"


def test_exact_fp32_is_one_option_away(photos: dict[str, Image.Image]) -> None:
    import timm  # noqa: F401  (the reference below is plain timm)
    import torch

    from img2img.embedders.efficientnet_torch import load_timm_model

    images = list(photos.values())[:4]
    exact = EfficientNetEmbedder(runtime="torch")
    model = load_timm_model()
    pixels = torch.from_numpy(np.stack([exact.prepare(i) for i in images]))
    with torch.no_grad():
        plain = model.forward_head(model.forward_features(pixels), pre_logits=True).numpy()  # type: ignore[operator]
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    np.testing.assert_allclose(exact.embed_images(images), plain, atol=1e-5)
    assert exact.runtime_in_use == "torch"


def test_device_and_runtime_never_change_the_model_id(tiny_clip_name: str) -> None:
    ids = {
        EfficientNetEmbedder(device=d, runtime=r).model_id  # type: ignore[arg-type]
        for d in ("auto", "cpu", "cuda")
        for r in ("auto", "torch", "onnxruntime", "openvino")
    }
    assert ids == {"efficientnet-lite0/imagenet"}
    assert (
        ClipEmbedder(tiny_clip_name, None, device="cuda").model_id
        == ClipEmbedder(tiny_clip_name, None, runtime="torch").model_id
    )


def test_unknown_runtime_and_bad_batch_size_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="runtime"):
        EfficientNetEmbedder(runtime="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="batch_size"):
        EfficientNetEmbedder(batch_size=0)


def test_a_device_this_machine_lacks_is_a_configuration_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ConfigurationError, match="cuda"):
        EfficientNetEmbedder(device="cuda").embed_images(sample_images())


def test_clip_prepares_images_as_open_clip_does(
    tiny_clip: ClipEmbedder, photos: dict[str, Image.Image]
) -> None:
    _, preprocess, _ = tiny_clip._load()
    images = list(photos.values())[:5]
    for photo in [*images, photos["rocket"].resize((301, 97))]:
        ours = tiny_clip.prepare(photo)
        assert ours.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(ours, preprocess(photo).numpy(), atol=1e-4)


def test_openvino_agrees_in_a_process_of_its_own() -> None:
    # OpenVINO's CPU threads stay behind in the process, and a later test that sends
    # itself Ctrl-C (the pipeline's interrupt tests) would then crash the whole run.
    case = f"{__file__}::test_fast_runtimes_agree_with_fp32_on_real_photos[openvino]"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", case, "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, OPENVINO_HERE: "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
