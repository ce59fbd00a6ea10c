"""Without Ray installed, the job says which extra to install (and ``import img2img`` never needs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from img2img.embedders.hashing import HashEmbedder
from img2img.errors import ConfigurationError, MissingDependencyError
from img2img.scale import RaySettings, index_on_ray
from img2img.stores.memory import InMemoryStore


def test_a_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    store = InMemoryStore()
    with pytest.raises(MissingDependencyError, match=r"pip install img2img-search\[ray\]"):
        index_on_ray(["https://example.com/a.jpg"], embedder=HashEmbedder, store=store)
    assert store.count() == 0


def test_importing_the_package_does_not_import_ray() -> None:
    code = "import img2img, img2img.scale, sys; print('ray' in sys.modules)"
    src = str(Path(__file__).parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("field", "value"),
    [("embed_actors", 0), ("batch_size", 2.5), ("gpus_per_actor", -1), ("decode_cpus", True)],
)
def test_bad_settings_are_refused_before_anything_runs(field: str, value: object) -> None:
    store = InMemoryStore()
    settings = RaySettings(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=field):
        index_on_ray(["a.jpg"], embedder=HashEmbedder, store=store, settings=settings)
    assert store.count() == 0


def test_a_keyphrase_must_be_text() -> None:
    with pytest.raises(ConfigurationError, match="keyphrase"):
        index_on_ray([], embedder=HashEmbedder, store=InMemoryStore(), keyphrase=3)  # type: ignore[arg-type]
