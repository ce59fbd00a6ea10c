"""reverse_lookup through the real client and the fake SerpAPI: claims kept to sites, costed; query bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from img2img import SOCIAL_MEDIA_SITES, reverse_lookup
from img2img.errors import AuthenticationError, ConfigurationError, FetchError, ImageUploadError
from img2img.loading import local_image_bytes
from img2img.models import UploadedImage
from img2img.sources.serpapi.google_lens import GoogleLensSource
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.photos import sample_photos

QUERY_URL = "https://photos.example.org/eiffel.jpg"


def lens(fake: FakeSerpApi, **options: Any) -> GoogleLensSource:
    return fake.lens_source(sleep=lambda seconds: None, **options)


def claim(n: int, link: str) -> dict[str, Any]:
    return {
        "position": n,
        "title": f"claim {n}",
        "link": link,
        "source": "Somewhere",
        "thumbnail": f"https://serpapi.com/searches/x/images/{n}.jpeg",
        "image": f"https://cdn.example/{n}.jpg",
    }


def photo_jpeg() -> bytes:
    buffer = io.BytesIO()
    sample_photos(("rocket",))["rocket"].save(buffer, format="JPEG")
    return buffer.getvalue()


def test_exact_only_costs_one_search_and_no_upload_for_a_url(serp: FakeSerpApi) -> None:
    found = reverse_lookup(QUERY_URL, lens(serp))
    assert [c.page_url for c in found.exact] == [
        "https://travelnotes.example/2024/paris-evenings",
        "https://www.reddit.com/r/paris/comments/abc123/golden_hour/",
        "https://stock.example.com/photo/98765",
    ]
    assert found.similar == ()
    report = found.report
    assert (report.searches, report.uploads, report.claimed, report.kept) == (1, 0, 3, 3)
    assert (report.off_site, report.repeated) == (0, 0)
    assert report.elapsed_seconds >= 0
    assert [r.param("type") for r in serp.requests] == ["exact_matches"]


def test_a_local_image_is_uploaded_once_for_both_searches(serp: FakeSerpApi) -> None:
    found = reverse_lookup(photo_jpeg(), lens(serp), similar=True)
    assert (found.report.searches, found.report.uploads) == (2, 1)
    assert len(found.exact) == 3
    assert len(found.similar) == 4
    assert all(c.extra["lens_type"] == "visual_matches" for c in found.similar)
    upload, exact, similar = serp.requests
    assert upload.path == "/image"
    assert exact.param("image_id") == similar.param("image_id") is not None
    assert (exact.param("type"), similar.param("type")) == ("exact_matches", "visual_matches")


def test_sites_keep_only_pages_on_them(serp: FakeSerpApi) -> None:
    found = reverse_lookup(QUERY_URL, lens(serp), similar=True, sites=SOCIAL_MEDIA_SITES)
    assert [c.domain for c in found.exact] == ["reddit.com"]
    assert [c.domain for c in found.similar] == ["x.com", "pinterest.com"]
    report = found.report
    assert (report.claimed, report.kept, report.off_site) == (7, 3, 4)


def test_sites_match_subdomains_and_are_cleaned(serp: FakeSerpApi) -> None:
    serp.lens.serve(
        exact=[
            claim(1, "https://old.reddit.com/r/a/1"),
            claim(2, "https://notreddit.com/r/a/2"),
            claim(3, "https://WWW.Reddit.com/r/a/3"),
        ]
    )
    found = reverse_lookup(QUERY_URL, lens(serp), sites=["https://www.Reddit.com/"])
    assert [c.position for c in found.exact] == [1, 3]
    with pytest.raises(ConfigurationError):
        reverse_lookup(QUERY_URL, lens(serp), sites="reddit.com")
    with pytest.raises(ConfigurationError):
        reverse_lookup(QUERY_URL, lens(serp), sites=["not a site"])


def test_a_page_claimed_by_both_searches_is_kept_once_as_exact(serp: FakeSerpApi) -> None:
    same = "https://blog.example/post/1"
    serp.lens.serve(
        exact=[claim(1, same)],
        visual=[claim(1, same + "#comments"), claim(2, "https://blog.example/post/2")],
    )
    found = reverse_lookup(QUERY_URL, lens(serp), similar=True)
    assert [c.page_url for c in found.exact] == [same]
    assert [c.page_url for c in found.similar] == ["https://blog.example/post/2"]
    report = found.report
    assert (report.claimed, report.kept, report.repeated) == (3, 2, 1)
    assert report.claimed == report.kept + report.off_site + report.repeated


def test_lens_finding_nothing_is_empty_and_still_costs_the_searches(serp: FakeSerpApi) -> None:
    serp.lens.serve(exact=[], visual=[])
    found = reverse_lookup(QUERY_URL, lens(serp), exact=True, similar=True)
    assert (found.exact, found.similar) == ((), ())
    assert (found.report.searches, found.report.claimed, found.report.kept) == (2, 0, 0)
    assert str(found.report).startswith(
        "2 searches, 0 uploads: claimed 0, kept 0, off-site 0, repeated 0 in "
    )


def test_similar_only(serp: FakeSerpApi) -> None:
    found = reverse_lookup(QUERY_URL, lens(serp), exact=False, similar=True, limit=2)
    assert found.exact == ()
    assert len(found.similar) == 2
    assert found.report.searches == 1


def test_an_earlier_upload_can_be_passed_on(serp: FakeSerpApi) -> None:
    source = lens(serp)
    uploaded = source.upload(photo_jpeg())
    found = reverse_lookup(uploaded, source)
    assert (found.report.searches, found.report.uploads) == (1, 0)
    assert len(serp.lens.uploads) == 1
    assert str(found.report).startswith("1 search, 0 uploads: claimed 3, kept 3")


def test_arguments_are_checked_before_anything_is_sent(serp: FakeSerpApi) -> None:
    with pytest.raises(ConfigurationError, match="exact matches, similar ones, or both"):
        reverse_lookup(QUERY_URL, lens(serp), exact=False)
    with pytest.raises(ConfigurationError, match="limit"):
        reverse_lookup(QUERY_URL, lens(serp), limit=0)
    with pytest.raises(ConfigurationError, match="float"):
        reverse_lookup(1.5, lens(serp))  # type: ignore[arg-type]
    assert serp.requests == []


def test_service_failures_raise(serp: FakeSerpApi) -> None:
    with pytest.raises(AuthenticationError):
        reverse_lookup(QUERY_URL, lens(serp, api_key="wrong"))
    serp.reset()
    serp.lens.refuse_uploads()
    with pytest.raises(ImageUploadError):
        reverse_lookup(photo_jpeg(), lens(serp))
    assert [r.path for r in serp.requests] == ["/image"]  # no search was spent


def test_uploaded_image_reference_is_what_lens_gets(serp: FakeSerpApi) -> None:
    found = reverse_lookup(UploadedImage(url="https://mine.example/q.jpg"), lens(serp))
    assert found.report.uploads == 0
    assert serp.requests[0].param("url") == "https://mine.example/q.jpg"


# -- the bytes of a local query image ------------------------------------------------


def test_local_image_bytes_reads_paths_and_passes_bytes(tmp_path: Path) -> None:
    data = photo_jpeg()
    path = tmp_path / "rocket.jpg"
    path.write_bytes(data)
    assert local_image_bytes(path) == data
    assert local_image_bytes(str(path)) == data
    assert local_image_bytes(path.as_uri()) == data
    assert local_image_bytes(data) == data
    assert local_image_bytes(bytearray(data)) == data


def test_local_image_bytes_encodes_pil_images_as_jpeg() -> None:
    from PIL import Image

    photo = sample_photos(("rocket",))["rocket"].convert("RGBA")
    decoded = Image.open(io.BytesIO(local_image_bytes(photo)))
    assert (decoded.format, decoded.mode, decoded.size) == ("JPEG", "RGB", photo.size)


@pytest.mark.parametrize("address", ["https://example.org/a.jpg", "ftp://example.org/a.jpg"])
def test_local_image_bytes_refuses_remote_addresses(address: str) -> None:
    with pytest.raises(ConfigurationError):
        local_image_bytes(address)


def test_local_image_bytes_says_which_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no such file"):
        local_image_bytes(tmp_path / "gone.jpg")
