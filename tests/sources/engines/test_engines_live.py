"""Each engine against its real service. Each test runs only with that engine's key set.

``pytest -m live tests/sources/engines/test_engines_live.py``: one search of each
engine whose key is set (TinEye, Yandex, SauceNAO, and SerpAPI's Bing and Google reverse).
"""

from __future__ import annotations

import os

import pytest

from img2img.sources.saucenao.source import SauceNaoSource
from img2img.sources.serpapi.bing_reverse import BingReverseImageSource
from img2img.sources.serpapi.google_reverse import GoogleReverseImageSource
from img2img.sources.tineye.source import TinEyeSource
from img2img.sources.yandex.source import YandexSource

# A photo posted on many pages for years; every engine knows it.
FAMOUS = "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg"


def _needs(*variables: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not all(os.environ.get(name) for name in variables),
        reason=f"set {' and '.join(variables)} to run against the real service",
    )


pytestmark = pytest.mark.live


def _check(claims: list[object]) -> None:
    assert claims
    for claim in claims:
        url = getattr(claim, "image_url", "")
        assert url.startswith(("http://", "https://"))


@_needs("TINEYE_API_KEY")
def test_tineye_finds_postings_with_crawl_dates() -> None:
    claims = list(TinEyeSource().lookup(FAMOUS, limit=10))
    _check(claims)  # type: ignore[arg-type]
    assert any("first_seen_date" in c.extra for c in claims)


@_needs("YANDEX_SEARCH_API_KEY", "YANDEX_FOLDER_ID")
def test_yandex_finds_pages() -> None:
    _check(list(YandexSource().lookup(FAMOUS, limit=10)))  # type: ignore[arg-type]


@_needs("SAUCENAO_API_KEY")
def test_saucenao_answers_and_reports_its_quota() -> None:
    source = SauceNaoSource()
    list(source.lookup(FAMOUS, limit=5))  # a photo may find no artwork; the quota is told anyway
    assert source.quota().remaining is not None


@_needs("SERPAPI_API_KEY")
def test_bing_reverse_finds_pages() -> None:
    _check(list(BingReverseImageSource().lookup(FAMOUS, limit=10)))  # type: ignore[arg-type]


@_needs("SERPAPI_API_KEY")
def test_google_reverse_finds_pages() -> None:
    _check(list(GoogleReverseImageSource().lookup(FAMOUS, limit=10)))  # type: ignore[arg-type]
