"""locate against the real Google Lens and the real web. Runs only with SERPAPI_API_KEY set.

Costs one search of your SerpAPI quota and downloads up to ten images:
``pytest -m live tests/locate/test_locate_live.py``.
"""

from __future__ import annotations

import os

import pytest

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("SERPAPI_API_KEY"), reason="set SERPAPI_API_KEY to run against SerpAPI"
    ),
]

# A photo posted on many pages for years: Lens finds exact copies of it.
FAMOUS = "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg"


def test_a_famous_photo_is_located_verified_and_stored(efficientnet: EfficientNetEmbedder) -> None:
    store = InMemoryStore()
    with ImageSearchClient(embedder=efficientnet, store=store) as client:
        found = client.locate(FAMOUS, limit=10)

    report = found.report
    assert (report.searches, report.uploads) == (1, 0)
    assert report.candidates == report.verified + report.different + report.alike + report.failed
    assert report.verified >= 1, f"no claim verified: {found.rejected}"
    assert store.count() == report.stored == report.verified
    for posting in found:
        assert posting.page_url is not None
        assert posting.page_url.startswith(("http://", "https://"))
        assert posting.metadata["found_by"] == "google_lens"
