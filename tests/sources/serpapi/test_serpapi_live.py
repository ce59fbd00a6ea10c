"""SerpApiSource against the real SerpAPI. Runs only with SERPAPI_API_KEY set.

Costs three searches of your SerpAPI quota: ``pytest -m live tests/sources/serpapi/test_serpapi_live.py``.
"""

from __future__ import annotations

import pytest
from web_source_helpers import live_against

from img2img.errors import AuthenticationError
from img2img.provenance import domain_of
from img2img.sources.serpapi.google_images import PAGE_SIZE, SerpApiSource

pytestmark = live_against("SerpAPI", "SERPAPI_API_KEY")


def test_pages_past_the_first_100_results() -> None:
    limit = PAGE_SIZE + 20
    candidates = list(SerpApiSource().discover("eiffel tower", limit=limit))
    # Google may hold fewer images than asked for, but "eiffel tower" has hundreds.
    assert len(candidates) == limit
    urls = [c.image_url for c in candidates]
    assert len(set(urls)) == len(urls)
    assert all(url.startswith(("http://", "https://")) for url in urls)
    assert sum(c.page_url is not None for c in candidates) >= limit * 0.9
    assert sum(c.domain is not None for c in candidates) >= limit * 0.9


def test_site_restriction_is_obeyed() -> None:
    candidates = list(SerpApiSource(sites=["wikimedia.org"]).discover("eiffel tower", limit=10))
    assert candidates
    for candidate in candidates:
        host = domain_of(candidate.page_url) or ""
        assert host == "wikimedia.org" or host.endswith(".wikimedia.org"), candidate.page_url


def test_a_wrong_key_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        list(SerpApiSource(api_key="not-a-real-key").discover("eiffel tower", limit=1))
