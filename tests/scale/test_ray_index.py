"""The Ray index job on a local two-worker cluster: the records of ``client.index``, the failures.

The cluster is started once for the module; the tests together take well under
two minutes. Without Ray (``pip install img2img-search[ray]``) they are skipped.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.models import IndexReport
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.scale import RaySettings, index_on_ray
from img2img.sources.folder import FolderSource
from img2img.stores.local.store import LocalStore
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos

ray = pytest.importorskip(
    "ray", reason="Ray is not installed: pip install img2img-search[ray] to run the Ray job tests"
)

#: One actor of each stage fits two CPUs at once.
TWO_CPUS = RaySettings(batch_size=4, download_batch=4, decode_cpus=0.75, embed_cpus=1.0)
#: Provenance that depends on when a record was written.
TIMED = {"indexed_at"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    # A cluster on 127.0.0.1 for this module; its token would live in a HOME that
    # other tests change, so a later cluster in this process could not read it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).parents[2] / "src")}},
        )
        try:
            yield
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def photo_server() -> Iterator[LoopbackServer]:
    """The photos as PNGs at ``/<name>.png``; ``/missing.png`` is a 404, ``/broken.png`` cut short."""
    pngs = {}
    for name, image in sample_photos().items():
        out = io.BytesIO()
        image.save(out, format="PNG")
        pngs[f"/{name}.png"] = out.getvalue()

    def serve(request: RecordedRequest) -> Reply:
        if request.path == "/broken.png":  # a PNG's start, then nothing
            return Reply(body=pngs["/coffee.png"][:300], headers={"Content-Type": "image/png"})
        body = pngs.get(request.path.replace("/copy-of-", "/"))
        if body is None:
            return Reply(status=404, body=b"no such picture")
        return Reply(body=body, headers={"Content-Type": "image/png"})

    with LoopbackServer(serve) as server:
        server.names = sorted(p.strip("/").removesuffix(".png") for p in pngs)  # type: ignore[attr-defined]
        yield server


#: Made on each worker (a function of this module would not import there).
_fetcher = functools.partial(HttpFetcher, allowed_networks=LOOPBACK_NETWORKS, max_connections=4)


def _urls(server: LoopbackServer) -> list[str]:
    names: list[str] = server.names  # type: ignore[attr-defined]
    return [f"{server.url}/{name}.png" for name in names]


def _records(store: LocalStore) -> dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]]:
    return {
        record.id: (
            np.asarray(record.vector),
            {k: v for k, v in record.metadata.items() if k not in TIMED},
        )
        for page in store.scan()
        for record in page
    }


def _by_client(urls: list[str], path: Path, keyphrase: str | None) -> IndexReport:
    with LocalStore(path) as store, _fetcher() as fetcher:
        client = ImageSearchClient(
            embedder=HashEmbedder(), store=store, fetcher=fetcher, cache_pictures=False
        )
        return client.add(urls, keyphrase=keyphrase)


def test_the_ray_job_stores_the_records_client_index_stores(
    cluster: None, photo_server: LoopbackServer, tmp_path: Path
) -> None:
    urls = _urls(photo_server)
    bad = [f"{photo_server.url}/missing.png", f"{photo_server.url}/broken.png"]
    # The same bytes at a second URL: stored as its own record with the vector reused.
    urls.append(f"{photo_server.url}/copy-of-coffee.png")
    expected = _by_client(urls + bad, tmp_path / "client.sqlite3", "photos")

    with LocalStore(tmp_path / "ray.sqlite3") as store:
        report = index_on_ray(
            urls + bad,
            embedder=HashEmbedder,
            store=store,
            keyphrase="photos",
            fetcher=_fetcher,
            settings=TWO_CPUS,
        )
        got = _records(store)
        space = store.embedding_space()
    with LocalStore(tmp_path / "client.sqlite3") as reference:
        wanted = _records(reference)
        assert space == reference.embedding_space()

    assert sorted(got) == sorted(wanted)
    assert len(got) == len(urls)
    for identity, (vector, metadata) in wanted.items():
        assert metadata == got[identity][1]
        np.testing.assert_allclose(got[identity][0], vector, atol=1e-6)
    assert (report.discovered, report.indexed, report.skipped, report.reused) == (
        expected.discovered,
        expected.indexed,
        expected.skipped,
        expected.reused,
    )
    assert report.reused == 1
    assert report.keyphrase == "photos"
    # Failures item by item, as client.index reports them.
    assert sorted((f.url, f.stage, f.reason) for f in report.failures) == sorted(
        (f.url, f.stage, f.reason) for f in expected.failures
    )
    assert {(f.url, f.stage) for f in report.failures} == {
        (bad[0], "fetch"),
        (bad[1], "decode"),
    }


def test_over_an_image_source_then_again_everything_is_skipped(
    cluster: None, photo_folder: Path, tmp_path: Path
) -> None:
    with LocalStore(tmp_path / "client.sqlite3") as reference:
        client = ImageSearchClient(
            source=FolderSource(photo_folder),
            embedder=HashEmbedder(),
            store=reference,
            cache_pictures=False,
        )
        expected = client.index("", limit=1000)
        wanted = _records(reference)

    with LocalStore(tmp_path / "ray.sqlite3") as store:
        source = FolderSource(photo_folder)
        first = index_on_ray(
            source, embedder=HashEmbedder, store=store, limit=1000, settings=TWO_CPUS
        )
        got = _records(store)
        again = index_on_ray(
            source, embedder=HashEmbedder, store=store, limit=1000, settings=TWO_CPUS
        )

    assert first.indexed == expected.indexed == len(wanted) > 0
    assert first.failures == ()
    assert first.keyphrase is None
    assert sorted(got) == sorted(wanted)
    # Local files carry their size and time, so a later run notices a change.
    assert all(got[i][1] == wanted[i][1] and "file_signature" in got[i][1] for i in wanted)
    assert (again.discovered, again.skipped, again.indexed) == (len(wanted), len(wanted), 0)
