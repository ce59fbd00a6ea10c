"""GoogleLensSource against FakeSerpApi: the real ``serpapi`` client over loopback HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lens_helpers import QUERY_URL, entry, lens_for, photo_bytes

from img2img.errors import ConfigurationError, FetchError
from img2img.models import ImageCandidate, UploadedImage
from img2img.protocols import ImageUploader, ReverseImageSource
from img2img.sources.serpapi.google_lens import GoogleLensSource
from img2img.sources.serpapi.http import API_KEY_ENV
from img2img.testing.contracts import ReverseImageSourceContract
from img2img.testing.fake_lens import recorded_lens_response
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


class TestGoogleLensContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, serp: FakeSerpApi) -> GoogleLensSource:
        return lens_for(serp)


def lens_requests(fake: FakeSerpApi) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.param("engine") == "google_lens"]


# -- what is sent ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "lens_type"), [("exact", "exact_matches"), ("similar", "visual_matches")]
)
def test_a_url_goes_to_lens_as_it_is(serp: FakeSerpApi, kind: str, lens_type: str) -> None:
    claims = list(lens_for(serp).lookup(QUERY_URL, kind=kind))  # type: ignore[arg-type]
    assert claims
    (request,) = serp.requests
    assert request.path in ("/search", "/search.json")
    assert request.param("engine") == "google_lens"
    assert request.param("type") == lens_type
    assert request.param("url") == QUERY_URL
    assert request.param("image_id") is None
    assert serp.lens.uploads == []


def test_options_become_lens_parameters(serp: FakeSerpApi) -> None:
    source = lens_for(serp, q="  tower   at dusk ", language="fr", country="FR", no_cache=True)
    list(source.lookup(QUERY_URL, kind="similar"))
    list(source.lookup(QUERY_URL, kind="exact"))
    similar, exact = serp.requests
    assert similar.param("q") == "tower at dusk"
    assert (similar.param("hl"), similar.param("country")) == ("fr", "fr")
    assert similar.param("no_cache") == "true"
    # Lens takes no text with exact matches: the refinement is left out there.
    assert exact.param("q") is None
    assert exact.param("no_cache") == "true"


def test_the_cache_is_used_unless_refused(serp: FakeSerpApi) -> None:
    list(lens_for(serp).lookup(QUERY_URL))
    assert serp.requests[0].param("no_cache") is None


def test_is_lazy_and_checks_arguments_at_once(serp: FakeSerpApi) -> None:
    claims = lens_for(serp).lookup(QUERY_URL)
    assert serp.requests == []
    next(claims)
    assert len(serp.requests) == 1
    with pytest.raises(ConfigurationError, match="kind"):
        lens_for(serp).lookup(QUERY_URL, kind="visual")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a local image: 'ftp"):
        lens_for(serp).lookup("ftp://example.com/a.jpg")
    with pytest.raises(ConfigurationError, match="int"):
        lens_for(serp).lookup(42)  # type: ignore[arg-type]
    assert len(serp.requests) == 1


def test_limit(serp: FakeSerpApi) -> None:
    assert len(list(lens_for(serp).lookup(QUERY_URL, kind="similar", limit=2))) == 2
    assert list(lens_for(serp).lookup(QUERY_URL, limit=0)) == []
    assert len(serp.requests) == 1  # limit 0 sends nothing


def test_missing_key_raises_before_any_request(
    serp: FakeSerpApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    source = GoogleLensSource(base_url=serp.url)
    with pytest.raises(ConfigurationError, match=API_KEY_ENV):
        source.lookup(QUERY_URL)
    monkeypatch.setenv(API_KEY_ENV, serp.api_key)
    assert list(source.lookup(QUERY_URL))
    assert serp.requests[0].param("api_key") == serp.api_key


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        GoogleLensSource(api_key="k", timeout=0)
    with pytest.raises(ConfigurationError):
        GoogleLensSource(api_key="k", base_url="ftp://serpapi.com")


def test_repr_hides_the_key() -> None:
    assert "s3cret-key" not in repr(GoogleLensSource(api_key="s3cret-key"))


def test_is_a_reverse_image_source_with_a_replaceable_uploader() -> None:
    source = GoogleLensSource(api_key="k")
    assert isinstance(source, ReverseImageSource)
    assert isinstance(source.uploader, ImageUploader)


# -- what comes back --------------------------------------------------------------


def test_maps_every_field_of_the_recorded_exact_matches(serp: FakeSerpApi) -> None:
    recorded = recorded_lens_response("exact")["exact_matches"]
    blog, reddit, stock = lens_for(serp).lookup(QUERY_URL, kind="exact")
    # No `image`: the SerpAPI-hosted thumbnail stands in, and the size of the
    # picture on the page is kept as provenance, not passed off as the thumbnail's.
    assert blog == ImageCandidate(
        image_url=recorded[0]["thumbnail"],
        page_url="https://travelnotes.example/2024/paris-evenings",
        title="Ten evenings in Paris - a travel blog",
        domain="travelnotes.example",
        thumbnail_url=recorded[0]["thumbnail"],
        width=None,
        height=None,
        position=1,
        extra={
            "found_by": "google_lens",
            "lens_type": "exact_matches",
            "lens_position": 1,
            "source_name": "travelnotes.example",
            "lens_date": "Jan 3, 2020",
            "lens_date_iso": "2020-01-03",
            "original_width": 1600,
            "original_height": 1200,
        },
    )
    # `source` is a site's name; the domain comes from the page.
    assert reddit.domain == "reddit.com"
    assert reddit.extra["source_name"] == "Reddit"
    assert reddit.extra["lens_date"] == "2 years ago"
    assert "lens_date_iso" not in reddit.extra  # relative dates stay as Google wrote them
    # With `image`, the direct picture is fetched and its actual size kept.
    assert stock.image_url == "https://cdn.stock.example.com/98765/eiffel.jpg"
    assert stock.thumbnail_url == recorded[2]["thumbnail"]
    assert (stock.width, stock.height) == (4000, 3000)
    assert "lens_date" not in stock.extra
    assert "original_width" not in stock.extra


def test_maps_every_field_of_the_recorded_visual_matches(serp: FakeSerpApi) -> None:
    recorded = recorded_lens_response("visual")["visual_matches"]
    wiki, x, etsy, pinterest = lens_for(serp).lookup(QUERY_URL, kind="similar")
    assert wiki == ImageCandidate(
        image_url="https://upload.wikimedia.org/wikipedia/commons/a/ab/Eiffel_dusk.jpg",
        page_url="https://commons.wikimedia.org/wiki/File:Eiffel_dusk.jpg",
        title="Eiffel Tower at dusk - Wikimedia Commons",
        domain="commons.wikimedia.org",
        thumbnail_url=recorded[0]["thumbnail"],
        width=2048,
        height=1536,
        position=1,
        extra={
            "found_by": "google_lens",
            "lens_type": "visual_matches",
            "lens_position": 1,
            "source_name": "Wikimedia Commons",
        },
    )
    assert (x.domain, x.image_url) == ("x.com", "https://pbs.twimg.com/media/GXyZ123abc.jpg")
    # A shop listing: a price, stock, and no `image` (the thumbnail and its own size stand in).
    assert etsy.image_url == recorded[2]["thumbnail"]
    assert (etsy.width, etsy.height) == (200, 300)
    assert etsy.domain == "etsy.com"
    assert etsy.extra["price"] == "$18.00*"
    assert etsy.extra["price_value"] == 18.0
    assert etsy.extra["price_currency"] == "$"
    assert etsy.extra["in_stock"] is True
    assert pinterest.domain == "pinterest.com"
    assert "price" not in pinterest.extra


def test_lens_finding_nothing_is_an_empty_answer(serp: FakeSerpApi) -> None:
    serp.lens.serve(exact=[], visual=[])
    assert list(lens_for(serp).lookup(QUERY_URL)) == []
    assert list(lens_for(serp).lookup(QUERY_URL, kind="similar")) == []
    empty = recorded_lens_response("empty")
    assert "hasn't returned any results" in empty["error"]


def test_the_recorded_empty_answer_is_empty(serp: FakeSerpApi) -> None:
    serp.queue(Reply.json(recorded_lens_response("empty")))
    assert list(lens_for(serp).lookup(QUERY_URL)) == []


def test_an_answer_without_its_list_is_empty(serp: FakeSerpApi) -> None:
    serp.queue(Reply.json({"search_metadata": {"status": "Success"}, "visual_matches": "?"}))
    assert list(lens_for(serp).lookup(QUERY_URL, kind="similar")) == []


def test_unusable_entries_are_dropped_and_image_urls_are_unique(serp: FakeSerpApi) -> None:
    serp.lens.serve(
        visual=[
            entry(0, image="file:///etc/passwd", thumbnail="data:image/jpeg;base64,AAAA"),
            entry(1, image="javascript:alert(1)"),  # the https thumbnail stands in
            entry(2, link="file:///etc/hosts"),
            entry(3, image=entry(2)["image"], link="https://mirror.example/3"),
            "not an entry",  # type: ignore[list-item]
            entry(4, image_width=True, position="4"),
        ]
    )
    claims = list(lens_for(serp).lookup(QUERY_URL, kind="similar"))
    assert [c.image_url for c in claims] == [
        entry(1)["thumbnail"],
        entry(2)["image"],
        entry(4)["image"],
    ]
    assert claims[1].page_url is None  # a non-http(s) link is no page
    assert claims[1].domain == "cdn.site2.example"
    assert claims[2].width is None  # a bool is not a size
    assert claims[2].extra["lens_position"] == 6  # a position that is not a number: the rank


# -- any image, not only URLs ---------------------------------------------------------


def test_a_local_photo_is_uploaded_then_looked_up_by_image_id(
    serp: FakeSerpApi, tmp_path: Path
) -> None:
    data = photo_bytes("coffee", format="JPEG")
    path = tmp_path / "coffee.jpg"
    path.write_bytes(data)
    for image in (path, str(path), path.as_uri(), data):
        serp.reset()
        assert len(list(lens_for(serp).lookup(image))) == 3
        upload, search = serp.requests
        assert (upload.method, upload.path) == ("POST", "/image")
        assert serp.lens.uploads == [data]  # a small JPEG is sent untouched
        image_id = search.param("image_id")
        assert image_id is not None
        assert serp.lens.uploaded(image_id) == data
        assert search.param("url") is None
        assert upload.query == {}  # the key travels in the form, not the URL


def test_a_pil_image_is_encoded_and_uploaded(serp: FakeSerpApi) -> None:
    photo = sample_photos(("chelsea",))["chelsea"]
    list(lens_for(serp).lookup(photo))
    (sent,) = serp.lens.uploads
    from PIL import Image

    assert Image.open(io.BytesIO(sent)).size == photo.size


def test_a_missing_file_fails_at_the_call_and_sends_nothing(
    serp: FakeSerpApi, tmp_path: Path
) -> None:
    with pytest.raises(FetchError, match="no such file"):
        lens_for(serp).lookup(tmp_path / "gone.jpg")
    assert serp.requests == []


def test_an_upload_is_reused_by_reference(serp: FakeSerpApi) -> None:
    source = lens_for(serp)
    uploaded = source.upload(photo_bytes())
    assert uploaded.upload_id is not None
    assert uploaded.expires_at is not None
    assert uploaded.size_bytes == len(photo_bytes())
    list(source.lookup(uploaded, kind="exact"))
    list(source.lookup(uploaded, kind="similar"))
    assert len(serp.lens.uploads) == 1
    assert [r.param("image_id") for r in lens_requests(serp)] == [uploaded.upload_id] * 2


class HostingUploader:
    """Puts images on a loopback "site" the test controls, as a user's own bucket would."""

    def __init__(self, site: LoopbackServer, stored: dict[str, bytes]) -> None:
        self.site = site
        self.stored = stored

    def upload(self, data: bytes) -> UploadedImage:
        name = f"/q/{len(self.stored)}.jpg"
        self.stored[name] = data
        return UploadedImage(url=self.site.url + name, size_bytes=len(data))


def test_the_uploader_is_replaceable_by_one_that_hosts_the_image(serp: FakeSerpApi) -> None:
    stored: dict[str, bytes] = {}
    with LoopbackServer(lambda r: Reply(body=stored.get(r.path, b""))) as site:
        source = lens_for(serp, uploader=HostingUploader(site, stored))
        data = photo_bytes()
        assert len(list(source.lookup(data, kind="similar"))) == 4
    (search,) = serp.requests  # nothing went to SerpAPI's upload
    assert search.param("url") == site.url + "/q/0.jpg"
    assert stored["/q/0.jpg"] == data


def test_uploaded_image_takes_exactly_one_reference() -> None:
    with pytest.raises(ConfigurationError):
        UploadedImage()
    with pytest.raises(ConfigurationError):
        UploadedImage(url="https://a.example/x.jpg", upload_id="abc")
