"""GoogleLensSource against the real SerpAPI. Runs only with SERPAPI_API_KEY set.

Costs two searches of your SerpAPI quota (the upload and the refused key cost none):
``pytest -m live tests/sources/serpapi/test_google_lens_live.py``.
"""

from __future__ import annotations

import io

import pytest
from web_source_helpers import live_against

from img2img.errors import AuthenticationError
from img2img.sources.serpapi.google_lens import GoogleLensSource
from img2img.testing.photos import sample_photos

pytestmark = live_against("SerpAPI", "SERPAPI_API_KEY")

# A photo posted on many pages for years: Lens finds exact copies of it.
FAMOUS = "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg"


def test_exact_matches_of_a_famous_photo_are_pages_with_http_urls() -> None:
    claims = list(GoogleLensSource().lookup(FAMOUS, kind="exact", limit=20))
    assert claims
    for claim in claims:
        assert claim.image_url.startswith(("http://", "https://"))
        assert claim.page_url is None or claim.page_url.startswith(("http://", "https://"))
        assert claim.extra["lens_type"] == "exact_matches"
    assert sum(claim.page_url is not None for claim in claims) >= len(claims) * 0.9


def test_a_local_photo_is_uploaded_and_looked_up() -> None:
    # The astronaut (NASA, public domain) is on countless pages.
    buffer = io.BytesIO()
    sample_photos(("astronaut",))["astronaut"].save(buffer, format="JPEG")
    source = GoogleLensSource()
    uploaded = source.upload(buffer.getvalue())
    assert uploaded.upload_id
    claims = list(source.lookup(uploaded, kind="similar", limit=10))
    assert claims
    assert all(claim.extra["lens_type"] == "visual_matches" for claim in claims)


def test_a_wrong_key_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        list(GoogleLensSource(api_key="not-a-real-key").lookup(FAMOUS))
