"""Asking a reverse-search service where a picture is: its claims, kept to some sites, and the cost.

The first stage of locating a picture on the web::

    lookup = reverse_lookup("photo.jpg", GoogleLensSource(), similar=True, sites=SOCIAL_MEDIA_SITES)
    for candidate in lookup.exact:        # pages claimed to show the same picture
        print(candidate.page_url, candidate.domain)
    print(lookup.report)                  # 2 searches, 1 uploads: claimed 57, kept 9, ...

What comes back are claims: the pages still have to be downloaded and their
pictures compared with the query before anything can be called a copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from img2img.arguments import check_whole
from img2img.errors import ConfigurationError
from img2img.loading import ImageInput, is_http_url, local_image_bytes
from img2img.models import ImageCandidate, LookupReport, MatchKind, ReverseLookup, UploadedImage
from img2img.protocols import ReverseImageSource
from img2img.provenance import domain_of, normalise_url
from img2img.sources.sites import clean_sites, on_sites

__all__ = ["check_asked", "reverse_lookup"]


def check_asked(exact: bool, similar: bool) -> None:
    """Refuse a lookup that asks for neither kind of match: it would cost nothing and find nothing."""
    if not (exact or similar):
        raise ConfigurationError("ask for exact matches, similar ones, or both")


class _Tally:
    def __init__(self) -> None:
        self.searches = self.uploads = self.claimed = self.off_site = self.repeated = 0


def _remote(
    image: ImageInput | UploadedImage, source: ReverseImageSource, tally: _Tally
) -> str | UploadedImage:
    """What the service can see: an ``http(s)`` URL or an upload, made once for every kind."""
    if isinstance(image, UploadedImage):
        return image
    if isinstance(image, str) and is_http_url(image):
        return image
    data = local_image_bytes(image)
    uploaded = source.upload(data)
    tally.uploads += 1
    return uploaded


def _keep(
    claims: Iterable[ImageCandidate], sites: Sequence[str], seen: set[str], tally: _Tally
) -> tuple[ImageCandidate, ...]:
    kept: list[ImageCandidate] = []
    for candidate in claims:
        tally.claimed += 1
        host = domain_of(candidate.page_url) or candidate.domain
        if sites and not on_sites(host, sites):
            tally.off_site += 1
            continue
        page = normalise_url(candidate.page_url or candidate.image_url)
        if page in seen:
            tally.repeated += 1
            continue
        seen.add(page)
        kept.append(candidate)
    return tuple(kept)


def reverse_lookup(
    image: ImageInput | UploadedImage,
    source: ReverseImageSource,
    *,
    exact: bool = True,
    similar: bool = False,
    limit: int = 100,
    sites: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> ReverseLookup:
    """Ask ``source`` which pages show ``image``; keep the claims on ``sites``, count the cost.

    Args:
        image: an ``http(s)`` URL, sent as it is; a path, ``file://`` URL,
            bytes or PIL image, uploaded once through ``source.upload`` and
            looked up by the reference that returns; or an
            :class:`~img2img.models.UploadedImage` from an earlier upload.
        source: any :class:`~img2img.protocols.ReverseImageSource`, e.g.
            :class:`~img2img.sources.serpapi.google_lens.GoogleLensSource`.
        exact: ask for pages showing the same picture (one search).
        similar: also ask for pages showing alike pictures (one more search).
        limit: the most claims taken from each search.
        sites: keep only pages on these sites or their subdomains (e.g.
            ``SOCIAL_MEDIA_SITES``); empty keeps every page.
        clock: seconds, for the elapsed time in the report.

    Returns:
        A :class:`~img2img.models.ReverseLookup`: ``exact`` and ``similar``
        claims in the service's order (a page claimed by both is kept once, as
        exact), and a :class:`~img2img.models.LookupReport` of searches,
        uploads and what became of each claim.

    Raises:
        ConfigurationError: neither ``exact`` nor ``similar``, a bad ``limit``
            or site, an input that is not an image reference.
        ServiceError: as the source raises it (bad key, spent quota, outage,
            an upload the plan refuses); nothing is returned then.
    """
    check_asked(exact, similar)
    check_whole("limit", limit)
    kept_sites = clean_sites(sites)
    started = clock()
    tally = _Tally()
    remote = _remote(image, source, tally)
    seen: set[str] = set()
    found: dict[MatchKind, tuple[ImageCandidate, ...]] = {"exact": (), "similar": ()}
    asked: list[tuple[MatchKind, bool]] = [("exact", exact), ("similar", similar)]
    for kind, wanted in asked:
        if wanted:
            tally.searches += 1
            claims = source.lookup(remote, kind=kind, limit=limit)
            found[kind] = _keep(claims, kept_sites, seen, tally)
    report = LookupReport(
        searches=tally.searches,
        uploads=tally.uploads,
        claimed=tally.claimed,
        kept=len(found["exact"]) + len(found["similar"]),
        off_site=tally.off_site,
        repeated=tally.repeated,
        elapsed_seconds=clock() - started,
    )
    return ReverseLookup(exact=found["exact"], similar=found["similar"], report=report)
