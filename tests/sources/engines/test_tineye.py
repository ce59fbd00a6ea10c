"""TinEyeSource against FakeTinEye: TinEye's REST API over loopback HTTP."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    QuotaExhaustedError,
    ServiceError,
)
from img2img.models import UploadedImage
from img2img.sources.tineye.source import TinEyeSource
from img2img.testing.contracts import ReverseImageSourceContract
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.http import Reply, form_fields
from img2img.testing.photos import sample_photos

QUERY = "https://photos.example.org/eiffel.jpg"


@pytest.fixture
def tineye() -> Iterator[FakeTinEye]:
    with FakeTinEye() as fake:
        yield fake


class TestTinEyeContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, tineye: FakeTinEye) -> TinEyeSource:
        return tineye.source()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    sample_photos(("astronaut",))["astronaut"].save(buffer, format="JPEG")
    return buffer.getvalue()


def test_each_backlink_is_a_claim_with_the_day_tineye_first_saw_it(tineye: FakeTinEye) -> None:
    claims = list(tineye.source().lookup(QUERY))
    assert [c.page_url for c in claims] == [
        "https://example-blog.net/2019/03/a-post/",
        "https://example-blog.net/archive/",
        "https://stock.example/photo/12345",
    ]
    first = claims[0]
    assert first.image_url == "https://example-blog.net/wp-content/uploads/2019/03/photo.jpg"
    assert first.extra["first_seen_date"] == "2019-03-02"
    assert first.extra["found_by"] == "tineye"
    assert first.extra["tineye_score"] == 87.5
    assert str(first.thumbnail_url).startswith("https://img.tineye.com/result/")
    assert claims[1].extra["first_seen_date"] == "2015-11-20"


def test_the_key_goes_in_a_header_and_the_options_as_parameters(tineye: FakeTinEye) -> None:
    source = tineye.source(sort="crawl_date", order="asc", backlink_limit=5, domain="Flickr.com")
    list(source.lookup(QUERY, limit=3))
    (request,) = tineye.requests
    assert request.headers["x-api-key"] == tineye.api_key
    assert tineye.api_key not in request.path + str(request.query)
    assert request.param("image_url") == QUERY
    assert (request.param("sort"), request.param("order")) == ("crawl_date", "asc")
    assert (request.param("backlink_limit"), request.param("domain")) == ("5", "flickr.com")
    assert request.param("limit") == "3"


def test_a_local_image_goes_in_the_search_as_a_multipart_upload(tineye: FakeTinEye) -> None:
    source = tineye.source()
    data = jpeg()
    uploaded = source.upload(data)
    assert tineye.requests == []  # holding the image sends nothing
    assert list(source.lookup(uploaded))
    (request,) = tineye.requests
    assert request.method == "POST"
    assert form_fields(request)["image_upload"] == data
    assert list(source.lookup(data))  # bytes straight away, too
    assert tineye.searches[1] == ("upload", data)


def test_an_upload_held_by_another_source_is_refused(tineye: FakeTinEye) -> None:
    with pytest.raises(ConfigurationError, match="holds no upload"):
        tineye.source().lookup(UploadedImage(upload_id="held:" + "0" * 64))


def test_similar_is_not_a_tineye_search(tineye: FakeTinEye) -> None:
    with pytest.raises(ConfigurationError, match="exact"):
        tineye.source().lookup(QUERY, kind="similar")
    assert tineye.requests == []


def test_served_matches_and_an_empty_answer(tineye: FakeTinEye) -> None:
    tineye.serve(
        [tineye_match("https://a.example/x.jpg", "https://a.example/p", crawl_date="2010-01-02")]
    )
    (claim,) = tineye.source().lookup(QUERY)
    assert (claim.image_url, claim.extra["first_seen_date"]) == (
        "https://a.example/x.jpg",
        "2010-01-02",
    )
    tineye.serve([])
    assert list(tineye.source().lookup(QUERY)) == []


def test_hostile_match_fields_are_skipped(tineye: FakeTinEye) -> None:
    bad = tineye_match("javascript:alert(1)", "file:///etc/passwd", crawl_date="yesterday")
    bad["image_url"] = "ftp://x/y.jpg"
    tineye.serve(
        [bad, "not a match", tineye_match("https://b.example/y.jpg", "https://b.example/")]
    )  # type: ignore[list-item]
    claims = list(tineye.source().lookup(QUERY))
    assert [c.image_url for c in claims] == ["https://b.example/y.jpg"]


def test_quota_left_is_read_from_the_free_call(tineye: FakeTinEye) -> None:
    source = tineye.source()
    assert source.quota().remaining == 5000
    list(source.lookup(QUERY))
    assert source.quota().remaining == 4999
    assert source.last_stats["total_backlinks"] == 3


def test_a_wrong_key_and_a_spent_bundle_are_told_apart(tineye: FakeTinEye) -> None:
    with pytest.raises(AuthenticationError, match="TINEYE_API_KEY") as caught:
        list(tineye.source(api_key="nope-secret").lookup(QUERY))
    assert "nope-secret" not in str(caught.value)
    tineye.remaining = 0
    with pytest.raises(QuotaExhaustedError, match="no searches left"):
        list(tineye.source().lookup(QUERY))


def test_a_malformed_reply_is_a_service_error(tineye: FakeTinEye) -> None:
    tineye.queue(Reply(status=200, body=b"<html>oops</html>"))
    with pytest.raises(ServiceError, match="not JSON"):
        list(tineye.source().lookup(QUERY))


def test_a_slow_reply_times_out_as_unavailable(tineye: FakeTinEye) -> None:
    from img2img.errors import ServiceUnavailableError
    from img2img.net.retry import RetryPolicy
    from img2img.testing.service import Stall

    tineye.queue(Stall(1.0))
    source = tineye.source(timeout=0.2, retry=RetryPolicy(attempts=1))
    with pytest.raises(ServiceUnavailableError, match="in time"):
        list(source.lookup(QUERY))


def test_a_missing_key_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINEYE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="TINEYE_API_KEY"):
        TinEyeSource().lookup(QUERY)


@pytest.mark.parametrize("bad", [{"sort": "age"}, {"order": "up"}, {"backlink_limit": 0}])
def test_bad_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        TinEyeSource(**bad)  # type: ignore[arg-type]
