"""The Google Lens side of :class:`~img2img.testing.fake_serpapi.FakeSerpApi`.

    with FakeSerpApi() as serp:
        source = serp.lens_source()                   # GoogleLensSource on the fake
        exact = list(source.lookup("https://photos.example.org/eiffel.jpg"))
        serp.lens.serve(exact=[], visual=[])          # Lens finds nothing
        serp.lens.refuse_uploads()                    # the key may not upload

It answers ``engine=google_lens`` searches (``type=exact_matches`` and
``type=visual_matches``) with the recorded-shape entries shipped in
``img2img/testing/data`` or the entries given to :meth:`FakeLens.serve`, the
empty answer SerpAPI sends when Lens finds nothing, and ``POST /image``
uploads in the shape SerpAPI documents (``{"message": ..., "image_id": ...}``),
keeping each upload so a later search can name it by ``image_id``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, Protocol
from urllib.parse import quote

from img2img.testing.http import RecordedRequest, Reply, form_fields

__all__ = ["FakeLens", "recorded_lens_response"]

_TYPES = ("exact_matches", "visual_matches")


def recorded_lens_response(name: str) -> dict[str, Any]:
    """A recorded-shape ``google_lens`` response: ``"exact"``, ``"visual"`` or ``"empty"``."""
    path = resources.files("img2img.testing") / "data" / f"google-lens-{name}.json"
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


class _Service(Protocol):
    """What the Lens side needs of the fake service it belongs to."""

    api_key: str

    @property
    def url(self) -> str: ...


def _error(status: int, message: str) -> Reply:
    return Reply.json({"error": message}, status=status)


class FakeLens:
    """Google Lens searches and image uploads for a :class:`FakeSerpApi`.

    Args:
        owner: the fake service whose key and address this shares.
        clock: Unix seconds, for upload expiry.
    """

    NO_RESULTS = "Google Lens hasn't returned any results for this query."
    INVALID_KEY = "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"
    UPLOADED = "Image uploaded successfully."
    #: The largest upload SerpAPI documents (500 KB).
    MAX_UPLOAD_BYTES = 500_000
    #: Seconds an upload stays usable, as SerpAPI has stated it.
    UPLOAD_LIFETIME = 600.0
    # SerpAPI documents no error bodies for uploads; these are this fake's wording.
    UPLOAD_REFUSED = "Your plan does not include image uploads."
    UPLOAD_TOO_LARGE = "The image is larger than 500 KB."
    UNKNOWN_IMAGE_ID = "Invalid `image_id`: no such upload, or it has expired."

    def __init__(self, owner: _Service, *, clock: Callable[[], float] = time.time) -> None:
        self._owner = owner
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    # -- test controls -------------------------------------------------------

    def reset(self) -> None:
        """Serve the recorded entries again, accept uploads, forget uploads and searches."""
        with self._lock:
            self._results: dict[str, list[Any]] = {
                "exact_matches": recorded_lens_response("exact")["exact_matches"],
                "visual_matches": recorded_lens_response("visual")["visual_matches"],
            }
            self._refusal: tuple[int, str] | None = None
            self._uploads: dict[str, tuple[bytes, float]] = {}
            self.uploads: list[bytes] = []
            self.searches: list[dict[str, str]] = []

    def serve(
        self,
        *,
        exact: Sequence[Any] | None = None,
        visual: Sequence[Any] | None = None,
    ) -> None:
        """Answer with these entries, as given; ``None`` keeps what is served, ``[]`` finds nothing."""
        with self._lock:
            if exact is not None:
                self._results["exact_matches"] = copy.deepcopy(list(exact))
            if visual is not None:
                self._results["visual_matches"] = copy.deepcopy(list(visual))

    def refuse_uploads(self, message: str = UPLOAD_REFUSED, *, status: int = 403) -> None:
        """Answer every upload with ``{"error": message}`` and ``status``, as for a plan without uploads."""
        with self._lock:
            self._refusal = (status, message)

    def uploaded(self, image_id: str) -> bytes | None:
        """The bytes uploaded under ``image_id``, if any."""
        with self._lock:
            entry = self._uploads.get(image_id)
        return entry[0] if entry else None

    # -- the service ---------------------------------------------------------

    def upload(self, request: RecordedRequest) -> Reply:
        """``POST /image``: multipart ``image`` and ``api_key``."""
        if request.method != "POST":
            return _error(405, "Use a multipart/form-data POST request.")
        parts = form_fields(request)
        if parts.get("api_key", b"").decode(errors="replace") != self._owner.api_key:
            return _error(401, self.INVALID_KEY)
        with self._lock:
            refusal = self._refusal
        if refusal is not None:
            return _error(*refusal)
        image = parts.get("image")
        if not image:
            return _error(400, "Missing `image` field.")
        if len(image) > self.MAX_UPLOAD_BYTES:
            return _error(400, self.UPLOAD_TOO_LARGE)
        image_id = hashlib.sha256(image + str(self._clock()).encode()).hexdigest()[:40]
        with self._lock:
            self._uploads[image_id] = (image, self._clock() + self.UPLOAD_LIFETIME)
            self.uploads.append(image)
        return Reply.json({"message": self.UPLOADED, "image_id": image_id})

    def search(self, request: RecordedRequest) -> Reply:
        """``GET /search?engine=google_lens``; the key is already checked."""
        params = {key: values[0] for key, values in request.query.items() if key != "api_key"}
        lens_type = params.get("type", "all")
        if lens_type not in _TYPES:
            return _error(
                400, f"This fake serves type=exact_matches or visual_matches, not {lens_type}."
            )
        url, image_id = params.get("url"), params.get("image_id")
        if not url and not image_id:
            return _error(400, "Missing `url` or `image_id` parameter.")
        if url and not url.startswith(("http://", "https://")):
            return _error(400, "Unsupported `url` parameter.")
        if image_id:
            with self._lock:
                entry = self._uploads.get(image_id)
            if entry is None or entry[1] < self._clock():
                return _error(400, self.UNKNOWN_IMAGE_ID)
        with self._lock:
            self.searches.append(params)
            results = copy.deepcopy(self._results[lens_type])
        return Reply.json(self._answer(params, lens_type, url or f"image_id:{image_id}", results))

    def _answer(
        self, params: Mapping[str, str], lens_type: str, image: str, results: list[Any]
    ) -> dict[str, Any]:
        search_id = hashlib.sha1(f"{lens_type}|{image}|{params.get('q')}".encode()).hexdigest()[:24]
        body: dict[str, Any] = {
            "search_metadata": {
                "id": search_id,
                "status": "Success",
                "json_endpoint": f"{self._owner.url}/searches/{search_id}.json",
                "created_at": "2026-11-30 09:00:00 UTC",
                "processed_at": "2026-11-30 09:00:00 UTC",
                "google_lens_url": f"https://lens.google.com/uploadbyurl?url={quote(image)}",
                "total_time_taken": 0.01,
            },
            "search_parameters": {
                "engine": "google_lens",
                "type": lens_type,
                **{
                    k: v
                    for k, v in params.items()
                    if k in ("url", "image_id", "hl", "country", "q")
                },
            },
        }
        if not results:
            body["search_information"] = {"images_results_state": "Fully empty"}
            body["error"] = self.NO_RESULTS
        else:
            body[lens_type] = results
        return body
