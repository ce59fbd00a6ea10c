"""Service faults during real runs: SerpAPI and Pinecone failing, throttling and stalling,
through their real clients against the loopback fakes. Nothing stored is lost, and
what gives up says what it did."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    AuthenticationError,
    RateLimitError,
    ServiceUnavailableError,
)
from img2img.models import VectorRecord
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.google_images import PAGE_SIZE
from img2img.stores.local.store import LocalStore
from img2img.stores.pinecone.store import PineconeStore
from img2img.testing.fake_pinecone import FakePinecone, Stall
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

NO_WAIT = RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0)


def _png(request: RecordedRequest) -> Reply:
    # A different picture per path, so vectors differ as real images would.
    shade = sum(request.path.encode()) % 250
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), (shade, 255 - shade, 90)).save(buffer, "PNG")
    return Reply(body=buffer.getvalue(), headers={"Content-Type": "image/png"})


@pytest.fixture(scope="module")
def images() -> Iterator[LoopbackServer]:
    with LoopbackServer(_png) as server:
        yield server


@pytest.fixture
def serp(images: LoopbackServer) -> Iterator[FakeSerpApi]:
    with FakeSerpApi(image_base_url=images.url, missing_original_every=0) as fake:
        yield fake


def client_for(serp: FakeSerpApi, store: object, **source: object) -> ImageSearchClient:
    fetcher = HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, retry=RetryPolicy(attempts=1))
    return ImageSearchClient(
        source=serp.source(retry=NO_WAIT, sleep=lambda seconds: None, **source),
        embedder=HashEmbedder(),
        store=store,  # type: ignore[arg-type]
        fetcher=fetcher,
        batch_size=50,
    )


# -- SerpAPI -------------------------------------------------------------------------------


def test_a_bad_key_raises_stores_nothing_and_binds_nothing(
    serp: FakeSerpApi, tmp_path: Path
) -> None:
    with LocalStore(tmp_path / "s.sqlite3") as store:
        client = client_for(serp, store, api_key="wrong-key")
        with pytest.raises(AuthenticationError, match="SERPAPI_API_KEY"):
            client.index("tower")
        assert (store.count(), store.embedding_space()) == (0, None)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (FakeSerpApi.error(429, FakeSerpApi.THROUGHPUT_LIMIT), RateLimitError),
        (FakeSerpApi.error(500, "Internal server error"), ServiceUnavailableError),
    ],
)
def test_a_first_page_that_keeps_failing_raises(
    serp: FakeSerpApi, fault: Reply, error: type[Exception], tmp_path: Path
) -> None:
    serp.queue(fault, fault)
    with LocalStore(tmp_path / "s.sqlite3") as store:
        with pytest.raises(error):
            client_for(serp, store).index("tower")
        assert (store.count(), store.embedding_space()) == (0, None)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (FakeSerpApi.error(500, "Internal server error"), "SerpAPI failed"),
        (FakeSerpApi.error(429, FakeSerpApi.THROUGHPUT_LIMIT), "rate limit"),
        (Reply(status=200, body=b'{"images_results": [', headers={}), "not a JSON object"),
    ],
    ids=["500", "429", "malformed-json"],
)
def test_a_later_page_that_fails_keeps_what_came_before(
    serp: FakeSerpApi, fault: Reply, reason: str, tmp_path: Path
) -> None:
    serp.reset(total_results=250, image_base_url=serp.image_base_url, missing_original_every=0)
    good_page = serp_page(serp, 0)
    serp.queue(good_page, fault, fault)
    with LocalStore(tmp_path / "s.sqlite3") as store, client_for(serp, store) as client:
        report = client.index("tower", limit=250)
        assert report.indexed == PAGE_SIZE
        (failure,) = report.failures
        assert failure.stage == "discover"
        assert reason in failure.reason
        assert client.store.count() == PAGE_SIZE


def serp_page(serp: FakeSerpApi, ijn: int) -> Reply:
    params = {"engine": "google_images", "q": "tower", "ijn": str(ijn), "api_key": serp.api_key}
    return Reply(body=httpx.get(serp.url + "/search", params=params).content)


def test_a_run_is_not_capped_by_a_missing_pagination_block(
    serp: FakeSerpApi, tmp_path: Path
) -> None:
    serp.reset(
        total_results=250,
        image_base_url=serp.image_base_url,
        missing_original_every=0,
        pagination=False,
    )
    with LocalStore(tmp_path / "s.sqlite3") as store, client_for(serp, store) as client:
        report = client.index("tower", limit=1000)
    assert (report.indexed, report.failures) == (250, ())
    assert serp.pages_requested() == [0, 1, 2]


# -- Pinecone ------------------------------------------------------------------------------

DIM = 8
RECORDS = 2_500  # three requests of at most 1,000


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def records() -> list[VectorRecord]:
    return [VectorRecord(f"r{i:04d}", unit(i), {"n": i}) for i in range(RECORDS)]


@pytest.fixture
def pinecone() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=DIM) as fake:
        yield fake


def pinecone_store(fake: FakePinecone, **options: object) -> PineconeStore:
    options.setdefault("retry", RetryPolicy(attempts=2, base_delay=0.01))
    return PineconeStore(host=fake.url, api_key=fake.api_key, **options)  # type: ignore[arg-type]


def all_there(fake: FakePinecone, store: PineconeStore) -> None:
    """Every record is stored once, whole: by count, by fetch, and in the service itself."""
    ids = [r.id for r in records()]
    assert store.count() == RECORDS
    fetched = store.fetch(ids)
    assert sorted(fetched) == ids
    np.testing.assert_allclose(fetched["r1234"].vector, unit(1234), rtol=1e-6)
    assert len(fake.records()) == RECORDS


@pytest.mark.parametrize(
    "fault",
    [
        FakePinecone.error(429, "Too many requests", retry_after="0"),
        FakePinecone.error(500, "Internal error"),
        FakePinecone.error(503, "Service unavailable"),
    ],
    ids=["429", "500", "503"],
)
def test_faults_in_the_middle_of_a_batched_upsert_lose_nothing(
    pinecone: FakePinecone, fault: Reply
) -> None:
    store = pinecone_store(pinecone)
    # The first request goes through; the second meets the fault twice, then succeeds.
    pinecone.queue(Stall(0), fault, fault, path="/vectors/upsert")
    store.upsert(records())
    assert len(pinecone.requests_to("/vectors/upsert")) == 5
    all_there(pinecone, store)


def test_a_timeout_in_the_middle_of_a_batched_upsert_loses_nothing(
    pinecone: FakePinecone,
) -> None:
    store = pinecone_store(pinecone, timeout=0.3)
    # The stalled request is applied after the client gave up on it; the retry
    # writes the same ids again, which replaces rather than duplicates.
    pinecone.queue(Stall(0), Stall(0.8), path="/vectors/upsert")
    store.upsert(records())
    all_there(pinecone, store)


def test_giving_up_says_what_was_written_and_a_retry_completes(pinecone: FakePinecone) -> None:
    store = pinecone_store(pinecone, retry=RetryPolicy(attempts=1))
    pinecone.queue(
        Stall(0), *[FakePinecone.error(500, "Internal error")] * 4, path="/vectors/upsert"
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        store.upsert(records())
    message = str(caught.value)
    assert "written: the first 1,000 of 2,500 vectors, up to id 'r0999'" in message
    assert "not confirmed: the other 1,500, ids 'r1000' to 'r2499'" in message
    assert caught.value.status_code == 500
    assert sorted(pinecone.records()) == [f"r{i:04d}" for i in range(1_000)]
    store.upsert(records())
    all_there(pinecone, store)


def test_an_index_run_that_pinecone_stops_resumes_without_loss(serp: FakeSerpApi) -> None:
    serp.reset(total_results=150, image_base_url=serp.image_base_url, missing_original_every=0)
    with FakePinecone(dimension=64) as fake:
        store = pinecone_store(fake, retry=RetryPolicy(attempts=1))
        client = client_for(serp, store)
        # The embedding-space record and the first batch of 50 go through; then an outage.
        fake.queue(
            Stall(0), Stall(0), *[FakePinecone.error(503, "down")] * 4, path="/vectors/upsert"
        )
        with pytest.raises(ServiceUnavailableError, match="written: none of the 50 vectors"):
            client.index("tower", limit=150)
        assert store.count() == 50
        report = client.index("tower", limit=150)
        assert (report.skipped, report.indexed, report.failures) == (50, 100, ())
        assert store.count() == 150
        assert len(fake.records()) == 150
