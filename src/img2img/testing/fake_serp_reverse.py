"""The ``bing_reverse_image`` and ``google_reverse_image`` side of :class:`FakeSerpApi`.

    with FakeSerpApi() as serp:
        bing = serp.bing_source()                    # BingReverseImageSource on the fake
        serp.reverse.serve("bing_reverse_image", {"pages_including": [...]})

Each engine answers with a recorded-shape reply shipped in
``img2img/testing/data`` (its fields as SerpAPI's example JSON shows them; see
the source modules' docstrings) or the reply given to :meth:`FakeSerpReverse.serve`.
A search without ``image_url`` gets SerpAPI's 400 error body.
"""

from __future__ import annotations

import copy
import json
import threading
from importlib import resources
from typing import Any

from img2img.testing.http import RecordedRequest, Reply

__all__ = ["REVERSE_ENGINES", "FakeSerpReverse", "recorded_reverse_reply"]

REVERSE_ENGINES = ("bing_reverse_image", "google_reverse_image")
_FILES = {
    "bing_reverse_image": "bing-reverse-image.json",
    "google_reverse_image": "google-reverse-image.json",
}


def recorded_reverse_reply(engine: str) -> dict[str, Any]:
    """The recorded-shape reply of ``engine`` (one of :data:`REVERSE_ENGINES`)."""
    path = resources.files("img2img.testing") / "data" / _FILES[engine]
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


class FakeSerpReverse:
    """Bing and Google reverse-image searches for a :class:`FakeSerpApi`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: dict[str, dict[str, Any]] = {
            e: recorded_reverse_reply(e) for e in REVERSE_ENGINES
        }
        #: ``(engine, image_url)`` of every search answered.
        self.searches: list[tuple[str, str]] = []

    def serve(self, engine: str, reply: dict[str, Any]) -> None:
        """Answer ``engine``'s searches with ``reply`` (its entries as given, hostile ones too)."""
        with self._lock:
            self._replies[engine] = copy.deepcopy(reply)

    def search(self, request: RecordedRequest) -> Reply:
        engine = str(request.param("engine"))
        image_url = request.param("image_url") or ""
        if not image_url:
            return Reply.json({"error": "Missing `image_url` parameter."}, status=400)
        with self._lock:
            self.searches.append((engine, image_url))
            reply = copy.deepcopy(self._replies[engine])
        reply.setdefault("search_parameters", {})["image_url"] = image_url
        return Reply.json(reply)
