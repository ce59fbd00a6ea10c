"""ClipEmbedder through the real open_clip code path: tiny architecture, random weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from img2img import ClipEmbedder, ConfigurationError, ModelUnavailableError
from img2img.testing.contracts import sample_images


def test_checkpoint_saved_and_loaded_gives_the_same_vectors(
    tiny_clip: ClipEmbedder, tmp_path: Path
) -> None:
    checkpoint = tiny_clip.save_checkpoint(tmp_path / "tiny.pt")
    loaded = ClipEmbedder(tiny_clip.model_name, pretrained=checkpoint)
    assert loaded.model_id == f"open_clip/{tiny_clip.model_name}/tiny.pt"
    assert loaded.cached_checkpoint() == checkpoint
    assert loaded.weights_available()
    images = sample_images()
    np.testing.assert_allclose(
        loaded.embed_images(images), tiny_clip.embed_images(images), atol=1e-5
    )
    np.testing.assert_allclose(
        loaded.embed_texts(["a photo"]), tiny_clip.embed_texts(["a photo"]), atol=1e-5
    )


def test_loaded_checkpoint_differs_from_other_random_weights(
    tiny_clip: ClipEmbedder, tmp_path: Path
) -> None:
    import torch

    state = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in tiny_clip._load()[0].state_dict().items()}  # fmt: skip
    torch.save(state, tmp_path / "perturbed.pt")
    perturbed = ClipEmbedder(tiny_clip.model_name, pretrained=tmp_path / "perturbed.pt")
    images = sample_images()
    assert not np.allclose(
        perturbed.embed_images(images), tiny_clip.embed_images(images), atol=1e-3
    )


def test_text_and_images_share_one_space(tiny_clip: ClipEmbedder) -> None:
    texts = tiny_clip.embed_texts(["a red circle", "a blue square", ""])
    assert texts.shape == (3, tiny_clip.dimension)
    assert texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-4)
    assert tiny_clip.embed_texts([]).shape == (0, tiny_clip.dimension)


def test_missing_checkpoint_file_is_a_clear_error(tiny_clip_name: str, tmp_path: Path) -> None:
    embedder = ClipEmbedder(tiny_clip_name, pretrained=tmp_path / "absent.safetensors")
    assert not embedder.weights_available()
    with pytest.raises(ModelUnavailableError, match="not found"):
        embedder.embed_images(sample_images())


def test_corrupt_checkpoint_is_a_clear_error(tiny_clip_name: str, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelUnavailableError, match="pretrained="):
        ClipEmbedder(tiny_clip_name, pretrained=bad).embed_images(sample_images())


def test_unknown_architecture_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no model named"):
        _ = ClipEmbedder("ViT-Imaginary-99", pretrained=None).dimension


def test_default_model_is_described_without_loading() -> None:
    embedder = ClipEmbedder()
    assert embedder.model_id == "open_clip/ViT-B-32/laion2b_s34b_b79k"
    assert embedder.dimension == 512
    assert embedder._loaded is None


def test_without_network_the_error_says_how_to_pass_a_checkpoint(tmp_path: Path) -> None:
    code = (
        "from img2img import ClipEmbedder, ModelUnavailableError\n"
        "from img2img.testing.contracts import sample_images\n"
        "e = ClipEmbedder()\n"
        "assert not e.weights_available()\n"
        "try:\n"
        "    e.embed_images(sample_images())\n"
        "except ModelUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "pretrained='/path/to/" in result.stdout
    assert "EfficientNetEmbedder" in result.stdout
