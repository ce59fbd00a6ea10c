"""YandexSource: pages that show a picture, through the Yandex Cloud Search API."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, ClassVar, Literal

from img2img.arguments import check_timeout, check_whole
from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    ServiceError,
)
from img2img.loading import ImageInput
from img2img.models import ImageCandidate, MatchKind, UploadedImage
from img2img.net.api_client import ApiClient, ApiReply
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, positive_int
from img2img.sources.fields import text
from img2img.sources.reverse_parts import HeldUploads, read_claims
from img2img.sources.settings import service_url, setting
from img2img.sources.yandex.images import candidate_from_image, whole

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "FOLDER_ENV",
    "IAM_TOKEN_ENV",
    "YandexSource",
]

API_KEY_ENV = "YANDEX_SEARCH_API_KEY"
IAM_TOKEN_ENV = "YANDEX_IAM_TOKEN"
FOLDER_ENV = "YANDEX_FOLDER_ID"
BASE_URL_ENV = "YANDEX_SEARCH_BASE_URL"
DEFAULT_BASE_URL = "https://searchapi.api.cloud.yandex.net"
_PATH = "/v2/image/search_by_image"
#: ``data`` is base64 of at most 3,145,728 characters: about 2.3 MB of image.
MAX_UPLOAD_BYTES = 3_145_728 * 3 // 4
DEFAULT_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=30.0)
KEY_HELP = (
    f"set {API_KEY_ENV} (a service account's API key) or {IAM_TOKEN_ENV} (an IAM token), "
    f"and {FOLDER_ENV} to your cloud folder, or pass YandexSource(api_key=..., folder_id=...)"
)
FamilyMode = Literal["none", "moderate", "strict"]


def _problem(payload: Any) -> str:
    if isinstance(payload, Mapping):
        return text(payload.get("message")) or text(payload.get("error")) or ""
    return ""


class YandexSource:
    """A :class:`~img2img.protocols.ReverseImageSource` over Yandex's image search by image.

    Yandex finds copies that Google misses, on Russian and Eastern European
    sites especially, and is strong on faces. Its answer mixes copies of the
    picture with alike pictures; every claim is verified by ``locate`` before
    it is called a posting.

    Args:
        api_key: a service account's API key (``Authorization: Api-Key ...``);
            defaults to ``YANDEX_SEARCH_API_KEY``.
        iam_token: an IAM token instead (``Authorization: Bearer ...``);
            defaults to ``YANDEX_IAM_TOKEN``. One of the two is needed.
        folder_id: the cloud folder billed; defaults to ``YANDEX_FOLDER_ID``
            (sent when set; an IAM token needs it).
        pages: result pages read per lookup, each one paid request (default 1).
        site: only results on this site.
        family_mode: ``none``, ``moderate`` (Yandex's default) or ``strict``.
        timeout, retry: per request; 429 and 5xx are retried.
        base_url: defaults to ``YANDEX_SEARCH_BASE_URL``, else
            ``https://searchapi.api.cloud.yandex.net``; tests point it at
            :class:`img2img.testing.fake_yandex.FakeYandex`.
        sleep: how to wait between retries.

    A local image is sent as ``data`` (base64) in the request; later pages
    name it by the ``id`` Yandex returned, so the bytes go out once.
    """

    name: ClassVar[str] = "yandex"
    key_env: ClassVar[str] = API_KEY_ENV
    kinds: ClassVar[tuple[MatchKind, ...]] = ("exact",)
    command_title: ClassVar[str] = "Yandex"
    command_note: ClassVar[str] = f"needs {API_KEY_ENV} or {IAM_TOKEN_ENV}, and {FOLDER_ENV}"
    command_options: ClassVar[tuple[Option, ...]] = (
        Option(
            "yandex-pages", "result pages read, each a paid request (default 1)", type=positive_int
        ),
        Option(
            "yandex-family-mode", "Yandex's adult filter", choices=("none", "moderate", "strict")
        ),
    )

    @classmethod
    def from_options(cls, values: OptionValues) -> YandexSource:
        """The engine ``img2img locate --engine yandex`` builds."""
        if not (setting(None, API_KEY_ENV) or setting(None, IAM_TOKEN_ENV)):
            raise ConfigurationError(f"locate --engine yandex needs credentials: {KEY_HELP}")
        return cls(
            pages=values.get("yandex_pages") or 1,
            family_mode=values.get("yandex_family_mode"),
        )

    @classmethod
    def configured(cls) -> bool:
        """Whether credentials are set, so ``locate`` asks Yandex when no engine is named."""
        return bool(setting(None, API_KEY_ENV) or setting(None, IAM_TOKEN_ENV))

    def __init__(
        self,
        api_key: str | None = None,
        *,
        iam_token: str | None = None,
        folder_id: str | None = None,
        pages: int = 1,
        site: str | None = None,
        family_mode: FamilyMode | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pages = check_whole("pages", pages)
        if family_mode not in (None, "none", "moderate", "strict"):
            raise ConfigurationError(
                f"family_mode must be 'none', 'moderate' or 'strict', got {family_mode!r}"
            )
        self.options: dict[str, str] = {}
        if site:
            self.options["site"] = site.strip()
        if family_mode:
            self.options["familyMode"] = f"FAMILY_MODE_{family_mode.upper()}"
        self.timeout = check_timeout(timeout)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._api_key = api_key
        self._iam_token = iam_token
        self._folder_id = folder_id
        self._sleep = sleep
        self._held = HeldUploads(MAX_UPLOAD_BYTES)

    def __repr__(self) -> str:
        return f"YandexSource(pages={self.pages}, options={self.options!r}, base_url={self.base_url!r})"

    def searches_for(self, limit: int) -> int:
        """Paid requests one lookup makes: one per page."""
        return self.pages

    def upload(self, data: bytes) -> UploadedImage:
        """Hold a local image (encoded bytes); it is sent as ``data`` with the first page."""
        return self._held.upload(data, engine="Yandex")

    def lookup(
        self, image: ImageInput | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` images Yandex found for ``image``, page by page."""
        if kind != "exact":
            raise ConfigurationError(
                "Yandex answers one search that mixes copies and alike pictures: "
                f"ask for kind 'exact', got {kind!r}"
            )
        authorization = self._authorization()
        folder = setting(self._folder_id, FOLDER_ENV)
        query = self._held.query(image, engine="Yandex")
        return self._results(authorization, folder, query, limit)

    def _authorization(self) -> str:
        key = setting(self._api_key, API_KEY_ENV, scheme="Api-Key ")
        if key:
            return f"Api-Key {key}"
        token = setting(self._iam_token, IAM_TOKEN_ENV, scheme="Bearer ")
        if token:
            return f"Bearer {token}"
        raise ConfigurationError(f"YandexSource needs credentials: {KEY_HELP}")

    def _results(
        self, authorization: str, folder: str, query: str | bytes, limit: int
    ) -> Iterator[ImageCandidate]:
        if limit <= 0:
            return
        body: dict[str, str] = dict(self.options)
        if folder:
            body["folderId"] = folder
        if isinstance(query, bytes):
            body["data"] = base64.b64encode(query).decode("ascii")
        else:
            body["url"] = query
        seen: set[str] = set()
        secret = authorization.split(" ", 1)[1]
        with ApiClient(
            service="Yandex Search API",
            base_url=self.base_url,
            headers={"Authorization": authorization},
            timeout=self.timeout,
            retry=self.retry,
            secrets=(secret,),
            sleep=self._sleep,
        ) as client:
            for page in range(self.pages):
                payload = self._checked(
                    client.request("POST", _PATH, json_body={**body, "page": str(page)})
                )
                images = payload.get("images")
                on_page = partial(candidate_from_image, page=page)
                yield from read_claims(images, on_page, limit, seen=seen)
                if len(seen) >= limit:
                    return
                cbir_id = text(payload.get("id"))
                last = whole(payload.get("maxPage"))
                if cbir_id:  # later pages name the image instead of sending it again
                    body.pop("data", None)
                    body.pop("url", None)
                    body["id"] = cbir_id
                if last is None or page >= last or not images:
                    return

    @staticmethod
    def _checked(reply: ApiReply) -> Mapping[str, Any]:
        payload = reply.payload
        words = _problem(payload) or f"HTTP {reply.status}"
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"Yandex Search API refused the credentials ({words}): {KEY_HELP}",
                status_code=reply.status,
            )
        if reply.status >= 400 or not isinstance(payload, Mapping):
            detail = words if isinstance(payload, Mapping) else "a reply that is not JSON"
            raise ServiceError(f"Yandex Search API failed: {detail}", status_code=reply.status)
        return payload
