"""API keys never show: not in logs (at DEBUG, every library's), reprs, exception messages
and their chains, reports, or the command's output."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ImageSearchClient
from img2img.cli.main import main
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import AuthenticationError, Img2ImgError, ServiceError
from img2img.models import VectorRecord
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi import google_images
from img2img.sources.serpapi.google_images import SerpApiSource
from img2img.stores.memory import InMemoryStore
from img2img.stores.pinecone.store import PineconeStore
from img2img.testing.fake_pinecone import FakePinecone
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

SERP_KEY = "serp-secret-4f9a7c"
PINECONE_KEY = "pc-secret-81be2d"


def everything_said(error: BaseException) -> str:
    """The messages of an error and of everything chained to it, as a traceback shows them."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen} {seen!r}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, every library
    return caplog


def _png(request: RecordedRequest) -> Reply:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (len(request.path) % 250, 40, 90)).save(buffer, "PNG")
    return Reply(body=buffer.getvalue(), headers={"Content-Type": "image/png"})


def test_the_serpapi_key_never_shows(debug_logs: pytest.LogCaptureFixture) -> None:
    with (
        LoopbackServer(_png) as images,
        FakeSerpApi(api_key=SERP_KEY, image_base_url=images.url) as serp,
    ):
        source = serp.source(retry=RetryPolicy(attempts=2, base_delay=0.0), sleep=lambda s: None)
        client = ImageSearchClient(
            source=source,
            embedder=HashEmbedder(),
            store=InMemoryStore(),
            fetcher=HttpFetcher(allowed_networks=LOOPBACK_NETWORKS),
        )
        # A hostile or buggy service echoing the key in its error, on a later page.
        serp.reset(total_results=250, image_base_url=images.url)
        first = httpx_page(serp)
        debug_logs.clear()  # that was the test's own request, not the library's
        serp.queue(first, *[FakeSerpApi.error(500, f"failed for key {SERP_KEY}")] * 2)
        report = client.index("tower", limit=250)
        assert report.indexed > 0
        said = [str(report), repr(report), repr(source), repr(client.source)]
        said += [f.reason for f in report.failures]
        assert report.failures  # the failing page is reported...
        serp.queue(FakeSerpApi.error(401, f"Invalid API key {SERP_KEY}"))
        with pytest.raises(AuthenticationError) as caught:
            client.index("bridge")
        said.append(everything_said(caught.value))
    assert "***" in " ".join(said)  # ...with the key masked
    for text in [*said, debug_logs.text]:
        assert SERP_KEY not in text
    assert "api_key=***" in debug_logs.text  # urllib3 logged the request line, masked


def httpx_page(serp: FakeSerpApi) -> Reply:
    import httpx

    params = {"engine": "google_images", "q": "tower", "ijn": "0", "api_key": serp.api_key}
    return Reply(body=httpx.get(serp.url + "/search", params=params).content)


def test_an_unreachable_serpapi_does_not_leak_the_key(debug_logs: pytest.LogCaptureFixture) -> None:
    with FakeSerpApi() as gone:
        url = gone.url  # closed: connections are refused, and requests names the URL
    source = SerpApiSource(
        api_key=SERP_KEY, base_url=url, retry=RetryPolicy(attempts=2), sleep=lambda s: None
    )
    with pytest.raises(ServiceError) as caught:
        list(source.discover("tower"))
    assert SERP_KEY not in everything_said(caught.value)
    assert SERP_KEY not in debug_logs.text


def test_the_pinecone_key_never_shows(debug_logs: pytest.LogCaptureFixture) -> None:
    with FakePinecone(dimension=4, api_key=PINECONE_KEY) as fake:
        store = PineconeStore(host=fake.url, api_key=PINECONE_KEY, retry=RetryPolicy(attempts=1))
        store.upsert([VectorRecord("a", np.ones(4, dtype=np.float32))])
        echo = FakePinecone.error(500, f"internal error, key {PINECONE_KEY}")
        fake.queue(*[echo] * 4, path="/query")  # outlasts the SDK's own retries
        said = [repr(store), str(store.__dict__)]
        with pytest.raises(Img2ImgError) as failed:
            store.query(np.ones(4, dtype=np.float32))
        wrong = PineconeStore(host=fake.url, api_key=PINECONE_KEY + "-old")
        with pytest.raises(AuthenticationError) as refused:
            wrong.count()
    said += [everything_said(failed.value), everything_said(refused.value), debug_logs.text]
    for text in said:
        assert PINECONE_KEY not in text


def test_the_command_never_prints_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    # No packet leaves the machine: every request goes to a proxy on a closed local port.
    with LoopbackServer(_png) as closed:
        dead_proxy = closed.url
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setattr(google_images, "DEFAULT_RETRY", RetryPolicy(attempts=1))
    store = str(tmp_path / "s.sqlite3")
    assert main(["--store", store, "--embedder", "efficientnet", "index", "tower"]) == 1
    out, err = capsys.readouterr()
    assert "img2img: error: cannot reach SerpAPI" in err
    assert SERP_KEY not in out + err + debug_logs.text
