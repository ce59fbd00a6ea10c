"""A CLIP folder's image tower: the int8 copy calibrated on photos, and the route chosen per CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ClipEmbedder
from img2img.embedders.clip_int8 import INT8_FILE, INT8_RECORD, add_int8_tower
from img2img.embedders.clip_routes import ROUTES
from img2img.embedders.runtime import MIN_COSINE


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_clip_name: str) -> Path:
    from img2img.embedders.clip_export import export_clip_folder

    return export_clip_folder(tiny_clip_name, None, tmp_path_factory.mktemp("clip") / "tiny-onnx")


@pytest.fixture(scope="module")
def with_int8(
    exported: Path, tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image]
) -> Path:
    folder = tmp_path_factory.mktemp("clip8") / "tiny-int8"
    shutil.copytree(exported, folder)
    add_int8_tower(folder, list(photos.values())[:10])
    return folder


def _records(cache: Path) -> list[Path]:
    return sorted((cache / "clip-routes").glob("*.json"))


def test_the_int8_tower_is_kept_when_it_agrees_on_held_out_photos(with_int8: Path) -> None:
    record = json.loads((with_int8 / "visual" / INT8_RECORD).read_text())
    assert record["kept"] is True
    assert record["min_cosine"] >= MIN_COSINE
    assert (record["calibration_photos"], record["held_out_photos"]) == (5, 5)
    assert (with_int8 / "visual" / INT8_FILE).is_file()


def test_int8_needs_photos_to_calibrate(exported: Path, photos: dict[str, Image.Image]) -> None:
    from img2img import ConfigurationError

    with pytest.raises(ConfigurationError, match="at least 4 photos"):
        add_int8_tower(exported, list(photos.values())[:3])


def test_auto_picks_a_route_once_and_remembers_it(
    with_int8: Path, tmp_path: Path, photos: dict[str, Image.Image], tiny_clip_name: str
) -> None:
    first = ClipEmbedder(tiny_clip_name, pretrained=with_int8, cache_dir=tmp_path)
    images = list(photos.values())[:4]
    vectors = first.embed_images(images)
    (record,) = _records(tmp_path)
    chosen = json.loads(record.read_text())
    assert first.runtime_in_use == chosen["route"] in ROUTES
    measured = set(chosen["images_per_second"]) | set(chosen["passed_over"])
    assert {"onnxruntime", "onnxruntime-int8"} <= measured
    assert all(cosine >= MIN_COSINE for cosine in chosen["cosine"].values())
    written = record.stat().st_mtime_ns

    second = ClipEmbedder(tiny_clip_name, pretrained=with_int8, cache_dir=tmp_path)
    assert second.runtime_in_use == chosen["route"]
    assert record.stat().st_mtime_ns == written  # read, not measured again
    fp32 = ClipEmbedder(tiny_clip_name, pretrained=with_int8, runtime="onnxruntime")
    assert fp32.runtime_in_use == "onnxruntime"
    cosines = np.sum(second.embed_images(images) * fp32.embed_images(images), axis=1)
    assert cosines.min() >= MIN_COSINE
    assert np.allclose(second.embed_images(images), vectors, atol=1e-5)


def test_a_route_whose_vectors_stray_is_passed_over(
    exported: Path, tmp_path: Path, tiny_clip_name: str
) -> None:
    import onnx
    from onnx import TensorProto, helper

    folder = tmp_path / "stray"
    shutil.copytree(exported, folder)
    # An "int8 tower" that answers with the mean colour projected at random: fast and wrong.
    weights = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "w"], ["embedding"]),
        ],
        "stray",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, None, None])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor("w", TensorProto.FLOAT, [3, 32], weights.ravel())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(folder / "visual" / INT8_FILE))

    clip = ClipEmbedder(tiny_clip_name, pretrained=folder, cache_dir=tmp_path / "cache")
    assert clip.runtime_in_use != "onnxruntime-int8"
    (record,) = _records(tmp_path / "cache")
    assert "under 0.99" in json.loads(record.read_text())["passed_over"]["onnxruntime-int8"]


def test_a_broken_record_is_measured_again(
    exported: Path, tmp_path: Path, tiny_clip_name: str
) -> None:
    assert ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path).runtime_in_use
    (record,) = _records(tmp_path)
    record.write_text("{not json")
    again = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    assert again.runtime_in_use in ROUTES
    assert json.loads(record.read_text())["route"] == again.runtime_in_use
