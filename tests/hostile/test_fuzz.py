"""Fuzzing: no input, however strange, raises anything but an img2img error.

URL strings go into ``add()`` and ``search()``, bytes into decoding, response bodies
into the SerpAPI and Pinecone adapters (through their real clients, over loopback),
and arbitrary structures into the filter language. No test here leaves this machine:
the fetcher resolves no name and may reach no private or loopback address.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    ImageError,
    Img2ImgError,
    InvalidFilterError,
)
from img2img.filters import compile_filter
from img2img.images import decode_image
from img2img.models import VectorRecord
from img2img.net.fetch import HttpFetcher
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.google_images import candidate_from_result
from img2img.stores.memory import InMemoryStore
from img2img.stores.pinecone.store import PineconeStore
from img2img.testing.fake_pinecone import FakePinecone
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import Reply

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def no_lookups(host: str, port: int) -> list[str]:
    raise OSError(f"the fuzz tests look up no names ({host})")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageSearchClient]:
    fetcher = HttpFetcher(resolver=no_lookups, retry=RetryPolicy(attempts=1), deadline=2.0)
    with ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), fetcher=fetcher) as c:
        photo = tmp_path_factory.mktemp("fuzz") / "photo.png"
        Image.new("RGB", (8, 8), (9, 99, 199)).save(photo)
        c.add([photo])
        yield c
    fetcher.close()


# -- URL strings ---------------------------------------------------------------------

hosts = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "127.0.0.1",
            "[::1]",
            "[::ffff:10.0.0.1]",
            "169.254.169.254",
            "xn--a",
            "xn--bcher-kva.example",
            "bücher.example",
            "localhost",
            "0",
            "[",
            "",
        ]
    ),
    st.text(max_size=20),
)
ports = st.one_of(
    st.sampled_from(["", "", ":80", ":8080", ":0", ":99999", ":-1", ":8o", ":", "::"]),
    st.builds(lambda p: f":{p}", st.text(max_size=6)),
)
url_texts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
        st.sampled_from(["http", "https", "http", "https", "HTTP", "file", "ftp", "data"]),
        hosts,
        ports,
        st.text(max_size=20),
    ),
)
#: The two inputs that once ended a whole run: a URL urllib cannot split, and a
#: host name IDNA refuses, raised from inside the HTTP library.
KNOWN_CRASHERS = ("http://[::1/photo.png", "http://xn--a.example/photo.png")


def not_a_folder(text: str) -> bool:
    """Adding a folder indexes everything under it: keep the fuzzer away from real ones."""
    try:
        return not Path(text).expanduser().is_dir()
    except (OSError, ValueError, RuntimeError):
        return True


@FUZZ
@given(text=url_texts)
@example(text=KNOWN_CRASHERS[0])
@example(text=KNOWN_CRASHERS[1])
def test_any_text_given_to_add_ends_as_one_failure_or_one_image(
    client: ImageSearchClient, text: str
) -> None:
    assume(not_a_folder(text))
    report = client.add([text], reindex=True)
    assert report.discovered == 1
    assert report.indexed + len(report.failures) == 1
    for failure in report.failures:
        # The catch-alls are a last line: every kind of input seen is handled by name.
        assert "unexpected" not in failure.reason, failure


@FUZZ
@given(text=url_texts)
@example(text=KNOWN_CRASHERS[0])
@example(text=KNOWN_CRASHERS[1])
def test_any_text_given_to_search_raises_only_img2img_errors(
    client: ImageSearchClient, text: str
) -> None:
    try:
        client.search(text, k=1)
    except Img2ImgError as exc:
        message = str(exc)
    else:
        return
    assert "unexpected" not in message, message


# -- image bytes ---------------------------------------------------------------------


def _seed_images() -> list[bytes]:
    base = Image.new("RGB", (24, 16), (120, 40, 200))
    seeds = []
    for fmt, params in [
        ("PNG", {}),
        ("JPEG", {"quality": 80}),
        ("GIF", {}),
        ("WEBP", {}),
        ("BMP", {}),
        ("TIFF", {}),
    ]:
        buffer = io.BytesIO()
        base.save(buffer, format=fmt, **params)
        seeds.append(buffer.getvalue())
    return seeds


SEEDS = _seed_images()


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[: cut or len(data)])


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on broken TIFF tags
@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated_images()))
def test_any_bytes_decode_or_raise_an_image_error(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=4_000_000)
    except ImageError:
        return
    assert image.mode == "RGB"
    assert image.width >= 1
    assert image.height >= 1


# -- SerpAPI answers -----------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["https://img.example/a.jpg", "http://[::1", "file:///etc/passwd"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
URL_FIELDS = ("original", "thumbnail", "link")
OTHER_FIELDS = ("title", "source", "original_width", "original_height", "is_product", "tag")
serp_results = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(url_texts, json_values) for name in URL_FIELDS},
        **dict.fromkeys(OTHER_FIELDS, json_values),
    },
)


@FUZZ
@given(result=serp_results, rank=st.integers(-5, 500))
@example(result={"original": KNOWN_CRASHERS[0], "link": "http://a:99999/"}, rank=1)
def test_any_serpapi_result_maps_to_a_candidate_or_nothing(
    result: dict[str, Any], rank: int
) -> None:
    candidate = candidate_from_result(result, rank=rank)
    if candidate is not None:
        assert candidate.image_url.lower().startswith(("http://", "https://"))


def answer_bodies(max_size: int, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Bodies a service might send: any bytes, or JSON holding any value or an object
    with some of ``fields``."""
    return st.one_of(
        st.binary(max_size=max_size),
        st.builds(
            lambda payload: json.dumps(payload).encode(),
            st.one_of(json_values, st.fixed_dictionaries({}, optional=fields)),
        ),
    )


serp_bodies = answer_bodies(
    200,
    images_results=st.one_of(st.lists(serp_results, max_size=5), json_values),
    error=json_values,
    serpapi_pagination=json_values,
)


@pytest.fixture(scope="module")
def serp() -> Iterator[FakeSerpApi]:
    with FakeSerpApi(total_results=0) as fake:
        yield fake


@FUZZ
@given(status=st.sampled_from([200, 400, 401, 403, 404, 429, 500, 503]), body=serp_bodies)
def test_any_serpapi_answer_gives_candidates_or_an_img2img_error(
    serp: FakeSerpApi, status: int, body: bytes
) -> None:
    serp.reset(total_results=0)
    serp.queue(Reply(status=status, body=body, headers={"Content-Type": "application/json"}))
    source = serp.source(retry=RetryPolicy(attempts=1), sleep=lambda seconds: None)
    try:
        for candidate in source.discover("anything", limit=20):
            assert candidate.image_url.lower().startswith(("http://", "https://"))
    except Img2ImgError:
        pass


# -- Pinecone answers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def pinecone() -> Iterator[tuple[FakePinecone, PineconeStore]]:
    with FakePinecone(dimension=4) as fake:
        store = PineconeStore(host=fake.url, api_key=fake.api_key, retry=RetryPolicy(attempts=1))
        store.count()  # the dimension is asked once, before any fuzzed answer
        yield fake, store
        store.close()


pinecone_bodies = answer_bodies(
    120,
    matches=json_values,
    vectors=json_values,
    namespaces=json_values,
    dimension=json_values,
    upsertedCount=json_values,
    code=json_values,
    message=json_values,
)
OPERATIONS = {
    "/query": lambda store: store.query(np.ones(4, dtype=np.float32), k=3),
    "/vectors/fetch": lambda store: store.fetch(["a", "b"]),
    "/describe_index_stats": lambda store: store.count(),
    "/vectors/upsert": lambda store: store.upsert([VectorRecord("a", np.ones(4, np.float32))]),
}


@FUZZ
@given(
    path=st.sampled_from(sorted(OPERATIONS)),
    status=st.sampled_from([200, 201, 400, 401, 404, 409, 413]),
    body=pinecone_bodies,
)
def test_any_pinecone_answer_gives_results_or_an_img2img_error(
    pinecone: tuple[FakePinecone, PineconeStore], path: str, status: int, body: bytes
) -> None:
    fake, store = pinecone
    fake.queue(
        Reply(status=status, body=body, headers={"Content-Type": "application/json"}), path=path
    )
    with contextlib.suppress(Img2ImgError):
        OPERATIONS[path](store)


# -- the filter language -------------------------------------------------------------

operators = st.sampled_from(
    ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or",
     "$not", "$regex", "$", "", "eq"]
)  # fmt: skip
filter_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.just(math.inf),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(operators, st.sampled_from(["a", "b", "tags"])), inner, max_size=3
        ),
    ),
    max_leaves=10,
)
metadata_values = st.one_of(
    st.text(max_size=3),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=3),
)
metadata = st.dictionaries(st.sampled_from(["a", "b", "tags"]), metadata_values, max_size=3)


@FUZZ
@given(flt=filter_values, rows=st.lists(metadata, max_size=6))
def test_any_filter_compiles_and_runs_or_is_an_invalid_filter_error(
    flt: Any, rows: list[dict[str, Any]]
) -> None:
    try:
        compiled = compile_filter(flt)
    except InvalidFilterError:
        return
    store = InMemoryStore()
    vectors = np.eye(4, dtype=np.float32)
    store.upsert([VectorRecord(str(i), vectors[i % 4], md) for i, md in enumerate(rows)])
    per_record = [str(i) for i, md in enumerate(rows) if compiled(md)]
    found = [m.id for m in store.query(vectors[0], k=max(1, len(rows)), filter=flt)]
    assert sorted(found) == sorted(per_record)
