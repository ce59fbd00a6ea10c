"""CLIP's int8 image tower made at first use from the pictures embedded, kept in the cache."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from img2img import ClipEmbedder, ConfigurationError
from img2img.embedders.clip_int8 import INT8_FILE, INT8_RECORD, add_int8_tower
from img2img.embedders.clip_int8_auto import AUTO_INT8_PHOTOS
from img2img.embedders.runtime import MIN_COSINE
from img2img.testing.photos import edited_copy

MAKING = "making an int8 copy"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_clip_name: str) -> Path:
    from img2img.embedders.clip_export import export_clip_folder

    return export_clip_folder(tiny_clip_name, None, tmp_path_factory.mktemp("clip") / "tiny-onnx")


@pytest.fixture(scope="module")
def pictures(photos: dict[str, Image.Image]) -> list[Image.Image]:
    """45 distinct pictures: the photos, mirrored, and re-posted copies."""
    base = list(photos.values())
    return base + [ImageOps.mirror(p) for p in base] + [edited_copy(p) for p in base]


def _built(cache: Path) -> list[Path]:
    return sorted((cache / "clip-int8").glob("*")) if (cache / "clip-int8").is_dir() else []


def _newest_route(cache: Path) -> dict[str, object]:
    records = sorted((cache / "clip-routes").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    loaded: dict[str, object] = json.loads(records[-1].read_text())
    return loaded


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def test_the_tower_is_made_after_enough_pictures_and_joins_the_routes(
    exported: Path,
    tmp_path: Path,
    pictures: list[Image.Image],
    tiny_clip_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="img2img")
    abandoned = tmp_path / "clip-int8" / ".build-killed"  # a builder killed two hours ago
    abandoned.mkdir(parents=True)
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    clip = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    before = clip.embed_images(pictures[:20])
    clip.embed_images(pictures[:20])  # the same pictures again do not count twice
    assert _built(tmp_path) == [abandoned]
    assert clip.runtime_in_use in ("onnxruntime", "openvino")

    clip.embed_images(pictures[20:40])  # 40 distinct now, more than AUTO_INT8_PHOTOS
    (folder,) = _built(tmp_path)
    record = json.loads((folder / INT8_RECORD).read_text())
    assert record["kept"] is True
    assert record["min_cosine"] >= MIN_COSINE
    assert record["calibration_photos"] + record["held_out_photos"] == AUTO_INT8_PHOTOS
    assert (folder / INT8_FILE).is_file()
    assert not list((exported / "visual").glob("*int8*"))  # the model's folder is left alone
    route = _newest_route(tmp_path)
    assert "onnxruntime-int8" in route["images_per_second"]  # type: ignore[operator]
    messages = [r.getMessage() for r in caplog.records]
    assert sum(MAKING in m for m in messages) == 1
    assert any("made CLIP's int8 image tower in" in m for m in messages)

    after = clip.embed_images(pictures[:20])
    assert _min_cosine(before, after) >= MIN_COSINE  # one store holds vectors from both sides

    caplog.clear()
    written = (folder / INT8_FILE).stat().st_mtime_ns
    again = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    assert _min_cosine(again.embed_images(pictures[:20]), after) >= 1 - 1e-5
    again.embed_images(pictures[20:45])
    assert not any(MAKING in r.getMessage() for r in caplog.records)
    assert (folder / INT8_FILE).stat().st_mtime_ns == written


def test_never_runs_fp32_only_and_folder_uses_only_the_folders_tower(
    exported: Path, tmp_path: Path, pictures: list[Image.Image], tiny_clip_name: str
) -> None:
    own = tmp_path / "with-own-int8"
    shutil.copytree(exported, own)
    add_int8_tower(own, pictures[:8])
    never = ClipEmbedder(tiny_clip_name, pretrained=own, int8="never", cache_dir=tmp_path / "a")
    never.embed_images(pictures[:40])
    assert never.runtime_in_use in ("onnxruntime", "openvino")
    assert not any("int8" in name for name in _newest_route(tmp_path / "a")["images_per_second"])  # type: ignore[union-attr]
    assert _built(tmp_path / "a") == []

    folder = ClipEmbedder(tiny_clip_name, pretrained=exported, int8="folder", cache_dir=tmp_path)
    folder.embed_images(pictures[:40])
    assert _built(tmp_path) == []
    uses_own = ClipEmbedder(tiny_clip_name, pretrained=own, int8="folder", cache_dir=tmp_path)
    uses_own.embed_images(pictures[:40])
    assert "onnxruntime-int8" in _newest_route(tmp_path)["images_per_second"]  # type: ignore[operator]
    assert _built(tmp_path) == []


def test_the_setting_comes_from_the_command_options_and_is_checked(
    exported: Path, tiny_clip_name: str
) -> None:
    built = ClipEmbedder.from_options(
        {"clip_checkpoint": str(exported), "clip_model": tiny_clip_name, "clip_int8": "never"},
        recorded=None,
    )
    assert built.int8 == "never"
    default = ClipEmbedder.from_options({"clip_checkpoint": str(exported)}, recorded=None)
    assert default.int8 == "auto"
    with pytest.raises(ConfigurationError, match="auto, folder, never"):
        ClipEmbedder(tiny_clip_name, pretrained=exported, int8="sometimes")  # type: ignore[arg-type]


def test_the_command_takes_clip_int8(exported: Path) -> None:
    from img2img.cli.embedding import choose_embedder
    from img2img.cli.exits import UsageError
    from img2img.cli.parser import build_parser
    from img2img.cli.registry import COMMANDS

    def chosen(*argv: str) -> object:
        parsed = build_parser(COMMANDS).parse_args(["--clip-checkpoint", str(exported), *argv])
        return choose_embedder(parsed, None)

    never = chosen("--clip-int8", "never", "info")
    assert isinstance(never, ClipEmbedder)
    assert never.int8 == "never"
    with pytest.raises(UsageError, match="auto"):
        chosen("--clip-int8", "sometimes", "info")


def _outlier_folder(exported: Path, folder: Path) -> Path:
    """A CLIP folder whose image tower static int8 cannot keep: one activation channel 1,000x
    the others sets the range, so the channels that make the output all round to zero."""
    import onnx
    from onnx import TensorProto, helper

    shutil.copytree(exported, folder)
    rng = np.random.default_rng(0)
    spread = rng.standard_normal((3, 33)).astype(np.float32)
    spread[:, 0] = 1000.0
    project = rng.standard_normal((33, 32)).astype(np.float32)
    project[0] = 0.0  # the huge channel does not reach the output
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "spread"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "project"], ["embedding"]),
        ],
        "outlier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 32])],
        [
            helper.make_tensor("spread", TensorProto.FLOAT, [3, 33], spread.ravel()),
            helper.make_tensor("project", TensorProto.FLOAT, [33, 32], project.ravel()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(folder / "visual" / "model.onnx"))
    return folder


def test_a_tower_that_falls_short_is_recorded_and_not_tried_again(
    exported: Path,
    tmp_path: Path,
    pictures: list[Image.Image],
    tiny_clip_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="img2img")
    folder = _outlier_folder(exported, tmp_path / "outlier")
    clip = ClipEmbedder(tiny_clip_name, pretrained=folder, cache_dir=tmp_path / "cache")
    vectors = clip.embed_images(pictures[:40])
    assert vectors.shape == (40, 32)
    (built,) = _built(tmp_path / "cache")
    record = json.loads((built / INT8_RECORD).read_text())
    assert record["kept"] is False
    assert record["min_cosine"] < MIN_COSINE
    assert not (built / INT8_FILE).exists()
    assert any("not kept" in r.getMessage() for r in caplog.records)
    assert clip.runtime_in_use in ("onnxruntime", "openvino")

    caplog.clear()
    written = (built / INT8_RECORD).stat().st_mtime_ns
    again = ClipEmbedder(tiny_clip_name, pretrained=folder, cache_dir=tmp_path / "cache")
    assert np.allclose(again.embed_images(pictures[:40]), vectors, atol=1e-5)
    assert not any(MAKING in r.getMessage() for r in caplog.records)
    assert (built / INT8_RECORD).stat().st_mtime_ns == written


def test_a_missing_quantiser_is_recorded_and_never_fails_the_embedding(
    exported: Path,
    tmp_path: Path,
    pictures: list[Image.Image],
    tiny_clip_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)  # as if not installed
    clip = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    assert clip.embed_images(pictures[:40]).shape == (40, 32)
    (built,) = _built(tmp_path)
    record = json.loads((built / INT8_RECORD).read_text())
    assert record["kept"] is False
    assert "onnxruntime.quantization" in record["error"]
    monkeypatch.delitem(sys.modules, "onnxruntime.quantization")
    again = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    again.embed_images(pictures[:40])
    assert not (built / INT8_FILE).exists()  # recorded: not tried again, even with it back


_BUILDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from PIL import ImageOps
    from img2img import ClipEmbedder
    from img2img.testing.photos import edited_copy, sample_photos

    folder, cache, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    base = list(sample_photos().values())
    pictures = base + [ImageOps.mirror(p) for p in base] + [edited_copy(p) for p in base]
    clip = ClipEmbedder("tiny", pretrained=folder, cache_dir=cache)
    clip.runtime_in_use  # the route chosen, no int8 tower yet
    (cache / f"ready-{me}").touch()
    while not (cache / "go").exists():
        time.sleep(0.02)
    clip.embed_images(pictures[:40])
    np.save(cache / f"vectors-{me}.npy", clip.embed_images(pictures[:8]))
    import logging
    print(len(logging.getLogger().handlers), clip.runtime_in_use)
    """
)


def test_two_processes_making_it_at_once_leave_one_whole_copy(
    exported: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILDER, str(exported), str(cache), str(me)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "IMG2IMG_CACHE_DIR": str(cache)},
        )
        for me in (1, 2)
    ]
    deadline = time.monotonic() + 120
    while not all((cache / f"ready-{me}").exists() for me in (1, 2)):
        assert time.monotonic() < deadline
        assert all(p.poll() is None for p in processes)
        time.sleep(0.05)
    (cache / "go").touch()
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all(MAKING in stderr for _, stderr in outputs)  # both really made one
    # The quantiser's logging.info() installs a root handler; undone, so nothing prints twice.
    assert all(stdout.startswith("0 ") for stdout, _ in outputs)
    assert not any("WARNING:img2img" in stderr for _, stderr in outputs)
    (built,) = _built(cache)  # no half-written copy, no staging folder left
    assert json.loads((built / INT8_RECORD).read_text())["kept"] is True
    first, second = (np.load(cache / f"vectors-{me}.npy") for me in (1, 2))
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    second /= np.linalg.norm(second, axis=1, keepdims=True)
    assert _min_cosine(first, second) >= MIN_COSINE


def test_a_cache_that_cannot_be_written_makes_nothing_and_embeds_in_fp32(
    exported: Path,
    tmp_path: Path,
    pictures: list[Image.Image],
    tiny_clip_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="img2img")
    (tmp_path / "a-file").write_text("not a folder")
    clip = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path / "a-file" / "c")
    assert clip.embed_images(pictures[:40]).shape == (40, 32)
    assert clip.runtime_in_use in ("onnxruntime", "openvino")
    assert not any(MAKING in r.getMessage() for r in caplog.records)  # not made, lost, remade


_INTERRUPTED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PIL import ImageOps
    from img2img import ClipEmbedder
    from img2img.testing.photos import edited_copy, sample_photos

    base = list(sample_photos().values())
    pictures = base + [ImageOps.mirror(p) for p in base] + [edited_copy(p) for p in base]
    clip = ClipEmbedder("tiny", pretrained=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))
    try:
        clip.embed_images(pictures[:40])
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


def test_ctrl_c_while_it_is_made_leaves_nothing_half_made(
    exported: Path, tmp_path: Path, pictures: list[Image.Image], tiny_clip_name: str
) -> None:
    import signal

    cache = tmp_path / "cache"
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _INTERRUPTED, str(exported), str(cache)], stderr=stderr
        )
        deadline = time.monotonic() + 120
        while MAKING not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)  # inside the quantiser (it takes a few seconds)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) in (130, 0), log.read_text()  # 0: it was done already
    leftovers = [p for p in _built(cache) if p.name.startswith(".")]
    assert leftovers == []
    for folder in _built(cache):  # made before the signal arrived: then whole
        assert json.loads((folder / INT8_RECORD).read_text())["kept"] is True
    again = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=cache)
    again.embed_images(pictures[:40])  # an interrupted run is not a failure: made now
    (folder,) = _built(cache)
    assert (folder / INT8_FILE).is_file()


def test_one_made_by_another_process_meanwhile_is_taken_not_made_again(
    exported: Path,
    tmp_path: Path,
    pictures: list[Image.Image],
    tiny_clip_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="img2img")
    waiting = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    waiting.embed_images(pictures[:20])
    quicker = ClipEmbedder(tiny_clip_name, pretrained=exported, cache_dir=tmp_path)
    quicker.embed_images(pictures[:40])
    (folder,) = _built(tmp_path)
    caplog.clear()
    waiting.embed_images(pictures[20:40])
    assert not any(MAKING in r.getMessage() for r in caplog.records)
    assert _built(tmp_path) == [folder]
    assert waiting.runtime_in_use == quicker.runtime_in_use
