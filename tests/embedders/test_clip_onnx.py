"""CLIP from an ONNX folder: both towers and the tokenizer, without torch at run time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ClipEmbedder, MissingDependencyError, ModelUnavailableError

TEXTS = [
    "a photo of a cat",
    "The Eiffel Tower at NIGHT!!   with   spaces",
    "don't stop: 123 ünïcödé 東京",
    "word " * 100,  # longer than the context: truncated as open_clip does
]
# Stands in for an environment without the [torch] extra.
WITHOUT_TORCH = "import sys\nfor name in ('torch', 'torchvision', 'open_clip', 'timm'):\n    sys.modules[name] = None\n"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_clip_name: str) -> Path:
    from img2img.embedders.clip_export import export_clip_folder

    return export_clip_folder(tiny_clip_name, None, tmp_path_factory.mktemp("clip") / "tiny-onnx")


def test_the_export_has_immichs_layout(exported: Path) -> None:
    for part in (
        "config.json",
        "visual/model.onnx",
        "visual/preprocess_cfg.json",
        "textual/model.onnx",
        "textual/tokenizer.json",
        "textual/tokenizer_config.json",
    ):
        assert (exported / part).is_file(), part
    assert json.loads((exported / "config.json").read_text())["embed_dim"] == 32


def test_tokens_are_open_clips(exported: Path, tiny_clip: ClipEmbedder) -> None:
    onnx = ClipEmbedder(tiny_clip.model_name, pretrained=exported)
    onnx.embed_texts(["load the tokenizer"])
    ours = [e.ids for e in onnx._onnx._tokenizer.encode_batch(TEXTS)]  # type: ignore[union-attr]
    theirs = tiny_clip._load()[2](TEXTS).numpy()
    for mine, reference in zip(ours, theirs, strict=True):
        length = int((reference != 0).sum())
        assert mine[:length] == reference[:length].tolist()


def test_vectors_equal_open_clips(
    exported: Path, tiny_clip: ClipEmbedder, photos: dict[str, Image.Image]
) -> None:
    onnx = ClipEmbedder(tiny_clip.model_name, pretrained=exported, runtime="onnxruntime")
    exact = ClipEmbedder(tiny_clip.model_name, pretrained=None, runtime="torch")
    assert onnx.dimension == exact.dimension == 32
    assert onnx.runtime_in_use == "onnxruntime"
    images = list(photos.values())[:6]
    image_cosines = np.sum(onnx.embed_images(images) * exact.embed_images(images), axis=1)
    assert image_cosines.min() >= 0.999, image_cosines
    # The default runs whichever route was fastest here, within the store's 0.99.
    fastest = ClipEmbedder(tiny_clip.model_name, pretrained=exported)
    fast_cosines = np.sum(fastest.embed_images(images) * exact.embed_images(images), axis=1)
    assert fast_cosines.min() >= 0.99, (fastest.runtime_in_use, fast_cosines)
    text_cosines = np.sum(onnx.embed_texts(TEXTS) * exact.embed_texts(TEXTS), axis=1)
    assert text_cosines.min() >= 0.999, text_cosines


def test_an_onnx_folder_runs_without_torch(
    exported: Path, tiny_clip: ClipEmbedder, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    images = list(photos.values())[:3]
    for index, image in enumerate(images):
        image.save(tmp_path / f"{index}.png")
    code = WITHOUT_TORCH + (
        "import numpy as np\n"
        "from PIL import Image\n"
        "from img2img import ClipEmbedder\n"
        f"clip = ClipEmbedder('{tiny_clip.model_name}', pretrained={str(exported)!r})\n"
        f"images = [Image.open({str(tmp_path)!r} + f'/{{i}}.png') for i in range(3)]\n"
        f"np.save({str(tmp_path / 'images.npy')!r}, clip.embed_images(images))\n"
        f"np.save({str(tmp_path / 'texts.npy')!r}, clip.embed_texts({TEXTS!r}))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    exact = ClipEmbedder(tiny_clip.model_name, pretrained=None, runtime="torch")
    images_cos = np.sum(np.load(tmp_path / "images.npy") * exact.embed_images(images), axis=1)
    texts_cos = np.sum(np.load(tmp_path / "texts.npy") * exact.embed_texts(TEXTS), axis=1)
    assert images_cos.min() >= 0.999
    assert texts_cos.min() >= 0.999


def test_without_a_model_or_the_extra_one_line_names_both_ways() -> None:
    code = WITHOUT_TORCH + (
        "from img2img import ClipEmbedder, MissingDependencyError\n"
        "from img2img.testing.contracts import sample_images\n"
        "try:\n"
        "    ClipEmbedder().embed_images(sample_images())\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    message = done.stdout.strip()
    assert "\n" not in message
    assert "visual/model.onnx" in message
    assert "pip install 'img2img-search[torch]'" in message
    assert issubclass(MissingDependencyError, Exception)


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path, tiny_clip_name: str) -> None:
    from img2img.embedders.clip_onnx import OnnxClip

    with pytest.raises(ModelUnavailableError, match=r"visual/model\.onnx"):
        OnnxClip(tmp_path)
    (tmp_path / "visual").mkdir()
    (tmp_path / "visual" / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "config.json").write_text('{"embed_dim": 8}')
    clip = ClipEmbedder(tiny_clip_name, pretrained=tmp_path)
    with pytest.raises(ModelUnavailableError, match="ONNX Runtime cannot load"):
        clip.embed_images([Image.new("RGB", (64, 64))])


def test_the_command_indexes_and_searches_by_words_with_an_onnx_folder_and_no_torch(
    exported: Path, tiny_clip_name: str, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        photos[name].save(folder / f"{name}.png")
    store = tmp_path / "clip.sqlite3"
    common = [
        "--store",
        str(store),
        "--clip-model",
        tiny_clip_name,
        "--clip-checkpoint",
        str(exported),
    ]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = WITHOUT_TORCH + (
            f"from img2img.cli.main import main\nraise SystemExit(main({[*common, *args]!r}))\n"
        )
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
        )

    added = run("--embedder", "clip", "add", str(folder))
    assert added.returncode == 0, added.stderr
    found = run("--json", "search-text", "a rocket")
    assert found.returncode == 0, found.stderr
    matches = json.loads(found.stdout)
    assert isinstance(matches, list)
    assert len(matches) == 3
