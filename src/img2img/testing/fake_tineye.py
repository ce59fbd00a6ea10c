"""A fake TinEye REST API on 127.0.0.1, answering in the shape TinEye documents.

    with FakeTinEye() as tineye:
        source = tineye.source()                      # TinEyeSource on the fake
        claims = list(source.lookup("https://photos.example.org/eiffel.jpg"))
        tineye.serve([tineye_match("http://127.0.0.1:9/a.jpg", "http://127.0.0.1:9/page",
                                   crawl_date="2015-11-20")])
        tineye.remaining = 0                          # the bundle is spent

``/rest/search/`` takes ``image_url`` (GET or POST) or a multipart
``image_upload``, the key in ``x-api-key``, and answers with the recorded-shape
reply shipped in ``img2img/testing/data/tineye-search.json`` (the fixed result
TinEye's sandbox key answers) or the matches given to :meth:`FakeTinEye.serve`.
``/rest/remaining_searches/`` answers the searches left. A wrong key gets 401,
a spent bundle 402 with TinEye's ``messages``; faults queue as on every fake.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from img2img.sources.tineye.source import TinEyeSource
from img2img.testing.http import RecordedRequest, Reply, form_fields
from img2img.testing.service import FakeService

__all__ = ["FakeTinEye", "recorded_tineye_reply", "tineye_match"]


def recorded_tineye_reply() -> dict[str, Any]:
    """The recorded-shape reply of one TinEye search (two matches, three backlinks)."""
    path = resources.files("img2img.testing") / "data" / "tineye-search.json"
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def tineye_match(
    image_url: str,
    page_url: str,
    *,
    crawl_date: str = "",
    score: float = 90.0,
    domain: str = "",
    copy_url: str | None = None,
) -> dict[str, Any]:
    """One match with one backlink, in TinEye's shape: the picture at ``image_url`` on ``page_url``."""
    return {
        "image_url": copy_url or image_url,
        "domain": domain or "example.org",
        "score": score,
        "width": 512,
        "height": 512,
        "size": 262144,
        "format": "JPEG",
        "filesize": 40000,
        "overlay": "overlay/x/x?m21=0&m22=1&m23=0&m11=1&m13=0&m12=0",
        "tags": [],
        "backlinks": [{"url": image_url, "backlink": page_url, "crawl_date": crawl_date}],
    }


class FakeTinEye(FakeService):
    """TinEye's search and quota calls on ``http://127.0.0.1:<port>/rest``.

    Args:
        api_key: the key the fake accepts.
        remaining: searches left in the bundle; each search spends one.
    """

    def __init__(self, *, api_key: str = "tineye-test-key", remaining: int = 5000) -> None:
        super().__init__()
        self.api_key = api_key
        self.remaining = remaining
        self._matches: list[dict[str, Any]] | None = None
        #: The searches answered, each as ``("url", url)`` or ``("upload", bytes)``.
        self.searches: list[tuple[str, Any]] = []

    @property
    def base_url(self) -> str:
        return self.url + "/rest"

    def source(self, **options: Any) -> TinEyeSource:
        """A :class:`TinEyeSource` with this fake's key and address."""
        options.setdefault("api_key", self.api_key)
        options.setdefault("sleep", lambda seconds: None)
        return TinEyeSource(base_url=self.base_url, **options)

    def serve(self, matches: Sequence[dict[str, Any]] | None) -> None:
        """Answer searches with these matches (``[]`` for none; ``None`` for the recorded reply)."""
        with self._lock:
            # Anything goes in, so tests can serve hostile replies.
            self._matches = None if matches is None else copy.deepcopy(list(matches))

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.headers.get("x-api-key") != self.api_key:
            return Reply.json({"code": 401, "messages": ["Invalid API key."]}, status=401)
        if request.path.rstrip("/") == "/rest/remaining_searches":
            return Reply.json(self._remaining())
        if request.path.rstrip("/") != "/rest/search":
            return Reply.json({"code": 404, "messages": ["Not found."]}, status=404)
        fields = form_fields(request)
        url = request.param("image_url") or (fields.get("image_url") or b"").decode()
        upload = fields.get("image_upload")
        if not url and not upload:
            return Reply.json(
                {"code": 400, "messages": ["An image_url or image_upload is required."]},
                status=400,
            )
        with self._lock:
            if self.remaining <= 0:
                return Reply.json(
                    {"code": 402, "messages": ["Your account has no remaining searches."]},
                    status=402,
                )
            self.remaining -= 1
            self.searches.append(("upload", upload) if upload else ("url", url))
            return Reply.json(self._reply(request, fields))

    def _reply(self, request: RecordedRequest, fields: dict[str, bytes]) -> dict[str, Any]:
        reply = recorded_tineye_reply()
        if self._matches is not None:
            matches = copy.deepcopy(self._matches)
            reply["results"]["matches"] = matches
            reply["stats"]["total_results"] = len(matches)
            reply["stats"]["total_backlinks"] = sum(
                len(m.get("backlinks", [])) for m in matches if isinstance(m, dict)
            )
        limit_text = request.param("limit") or (fields.get("limit") or b"").decode() or "100"
        reply["results"]["matches"] = reply["results"]["matches"][: int(limit_text)]
        return reply

    def _remaining(self) -> dict[str, Any]:
        with self._lock:
            left = self.remaining
        return {
            "code": 200,
            "messages": [],
            "results": {
                "total_remaining_searches": left,
                "bundles": [
                    {
                        "remaining_searches": left,
                        "start_date": "2026-01-01 00:00:00 UTC",
                        "expire_date": "2027-01-01 00:00:00 UTC",
                    }
                ],
            },
        }
