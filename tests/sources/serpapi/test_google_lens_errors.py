"""GoogleLensSource and the image upload when SerpAPI says no: keys, quota, outages, refusals."""

from __future__ import annotations

import functools
import io

import pytest
from lens_helpers import QUERY_URL, lens_for, photo_bytes
from serpapi_helpers import loaded_after_importing

from img2img.errors import (
    AuthenticationError,
    ImageUploadError,
    InvalidImageError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.upload import MAX_UPLOAD_BYTES, SerpApiImageUploader, fit_for_upload
from img2img.testing.fake_lens import FakeLens
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import Reply
from img2img.testing.photos import sample_photos

POLICY = RetryPolicy(attempts=3, base_delay=1.0, jitter=0.0)


@functools.cache
def big_png() -> bytes:
    """A real photo blown up to 2400 x 2400 px: megabytes as a PNG."""
    buffer = io.BytesIO()
    sample_photos(("astronaut",))["astronaut"].resize((2400, 2400)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the search -------------------------------------------------------------------


def test_bad_key_raises_a_clear_authentication_error(serp: FakeSerpApi) -> None:
    with pytest.raises(AuthenticationError, match="SERPAPI_API_KEY") as caught:
        list(lens_for(serp, api_key="wrong-key-123").lookup(QUERY_URL))
    assert caught.value.status_code == 401
    assert "Invalid API key" in str(caught.value)
    assert "wrong-key-123" not in str(caught.value)
    assert len(serp.requests) == 1  # a wrong key is not retried


def test_an_exhausted_account_raises_at_once(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.queue(FakeSerpApi.error(429, FakeSerpApi.OUT_OF_SEARCHES))
    with pytest.raises(RateLimitError, match="run out of searches"):
        list(lens_for(serp, sleeps).lookup(QUERY_URL, kind="similar"))
    assert (len(serp.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    "fault",
    [
        FakeSerpApi.error(500, "Internal server error"),
        FakeSerpApi.error(503, "Service unavailable"),
        Reply(status=502, body=b"<html>Bad gateway</html>"),
        FakeSerpApi.error(429, FakeSerpApi.THROUGHPUT_LIMIT),
    ],
)
def test_transient_failures_then_success(
    serp: FakeSerpApi, sleeps: list[float], fault: Reply
) -> None:
    serp.queue(fault, fault)
    claims = list(lens_for(serp, sleeps, retry=POLICY).lookup(QUERY_URL))
    assert claims[0].page_url == "https://travelnotes.example/2024/paris-evenings"
    assert len(claims) == 3
    assert sleeps == [1.0, 2.0]
    assert len(serp.requests) == 3


def test_an_outage_that_lasts_raises_service_unavailable(
    serp: FakeSerpApi, sleeps: list[float]
) -> None:
    serp.queue(*[FakeSerpApi.error(500, "boom")] * 3)
    with pytest.raises(ServiceUnavailableError) as caught:
        list(lens_for(serp, sleeps, retry=POLICY).lookup(QUERY_URL))
    assert caught.value.status_code == 500
    assert len(serp.requests) == 3


def test_an_unknown_upload_reference_is_a_service_error(serp: FakeSerpApi) -> None:
    from img2img.models import UploadedImage

    with pytest.raises(ServiceError, match="image_id") as caught:
        list(lens_for(serp).lookup(UploadedImage(upload_id="never-uploaded")))
    assert type(caught.value) is ServiceError


def test_an_expired_upload_is_refused_by_the_service() -> None:
    now = [1_000_000.0]
    with FakeSerpApi() as serp:
        serp.lens = FakeLens(serp, clock=lambda: now[0])
        uploaded = lens_for(serp).upload(photo_bytes())
        now[0] += FakeLens.UPLOAD_LIFETIME + 1
        with pytest.raises(ServiceError, match="expired"):
            list(lens_for(serp).lookup(uploaded))


# -- the upload ---------------------------------------------------------------------


def test_an_upload_the_plan_refuses_says_what_to_do(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.lens.refuse_uploads()
    source = lens_for(serp, sleeps)
    with pytest.raises(ImageUploadError) as caught:
        list(source.lookup(photo_bytes()))
    message = str(caught.value)
    assert "may not upload images" in message
    assert "public http(s) URL" in message
    assert "uploader" in message
    assert caught.value.status_code == 403
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert lens_requests_sent(serp) == 0  # no search was spent
    assert sleeps == []


def test_any_other_upload_refusal_is_an_upload_error(serp: FakeSerpApi) -> None:
    serp.lens.refuse_uploads("Unsupported image type.", status=400)
    with pytest.raises(ImageUploadError, match="Unsupported image type"):
        lens_for(serp).upload(photo_bytes())


def test_an_upload_with_a_bad_key_is_an_authentication_error(serp: FakeSerpApi) -> None:
    with pytest.raises(AuthenticationError, match="Invalid API key") as caught:
        lens_for(serp, api_key="wrong-key-123").upload(photo_bytes())
    assert "wrong-key-123" not in str(caught.value)
    assert caught.value.status_code == 401


def test_an_upload_answer_without_an_image_id_is_an_upload_error(serp: FakeSerpApi) -> None:
    serp.queue(Reply.json({"message": "Image uploaded successfully."}))
    with pytest.raises(ImageUploadError, match="no image_id"):
        lens_for(serp).upload(photo_bytes())


def test_an_upload_is_retried_through_an_outage(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.queue(FakeSerpApi.error(503, "Service unavailable"))
    uploaded = lens_for(serp, sleeps, retry=POLICY).upload(photo_bytes())
    assert uploaded.upload_id is not None
    assert sleeps == [1.0]
    assert [r.path for r in serp.requests] == ["/image", "/image"]


def test_bytes_that_are_not_an_image_are_refused_before_sending(serp: FakeSerpApi) -> None:
    with pytest.raises(InvalidImageError):
        list(lens_for(serp).lookup(b"<html>not a picture</html>"))
    assert serp.requests == []


def test_a_big_image_is_shrunk_to_fit_the_upload_limit(serp: FakeSerpApi) -> None:
    data = big_png()
    assert len(data) > MAX_UPLOAD_BYTES
    assert list(lens_for(serp).lookup(data))
    (sent,) = serp.lens.uploads
    assert len(sent) <= MAX_UPLOAD_BYTES
    from PIL import Image

    shrunk = Image.open(io.BytesIO(sent))
    assert shrunk.format == "JPEG"
    assert shrunk.size[0] == shrunk.size[1] <= 2048


def test_fit_for_upload_keeps_small_jpegs_and_pngs_and_reencodes_the_rest() -> None:
    jpeg = photo_bytes(format="JPEG")
    assert fit_for_upload(jpeg) == (jpeg, "image/jpeg")
    png = photo_bytes(format="PNG")
    assert fit_for_upload(png) == (png, "image/png")
    webp = photo_bytes(format="WEBP")
    sent, kind = fit_for_upload(webp)
    assert kind == "image/jpeg"
    assert sent[:3] == b"\xff\xd8\xff"
    small, _ = fit_for_upload(big_png(), max_bytes=60_000)
    assert len(small) <= 60_000
    with pytest.raises(ImageUploadError, match="cannot make the image fit"):
        fit_for_upload(big_png(), max_bytes=2_000)


def test_the_key_never_leaks_when_the_service_is_unreachable(sleeps: list[float]) -> None:
    with FakeSerpApi() as gone:
        url = gone.url
    uploader = SerpApiImageUploader(
        "secret-key-42", base_url=url, sleep=sleeps.append, retry=RetryPolicy(attempts=2)
    )
    with pytest.raises(ServiceUnavailableError, match="cannot reach SerpAPI") as caught:
        uploader.upload(photo_bytes(format="JPEG"))
    assert len(sleeps) == 1
    chain: BaseException | None = caught.value
    while chain is not None:
        assert "secret-key-42" not in str(chain)
        chain = chain.__cause__ or chain.__context__


def test_importing_the_lens_adapter_loads_no_vendor_client() -> None:
    loaded = loaded_after_importing(
        "img2img.sources.serpapi.google_lens",
        "img2img.testing.fake_serpapi",
        watched=("serpapi", "requests", "PIL"),
    )
    assert loaded == []


def lens_requests_sent(fake: FakeSerpApi) -> int:
    return sum(r.param("engine") == "google_lens" for r in fake.requests)
