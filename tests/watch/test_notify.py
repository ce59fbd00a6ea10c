"""The webhook: one JSON POST of what is new and gone, sent only where the guard allows."""

from __future__ import annotations

import pytest

from img2img.errors import BlockedURLError, Img2ImgError, ServiceError
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.watch.book import WatchedPicture, WatchedPosting
from img2img.watch.check import PictureCheck, WatchCheck
from img2img.watch.notify import DISCORD_CONTENT_LIMIT, notify_webhook, webhook_body


def _check(new: int = 1, gone: int = 0) -> WatchCheck:
    picture = WatchedPicture("ab" * 32, "my art", ("tineye",), (), "", 0, None)

    def posting(n: int) -> WatchedPosting:
        return WatchedPosting(
            f"p{n}", f"https://x.example/{n}.jpg", f"https://x.example/{n}", "x.example",
            None, "copy", ("tineye",), 1_700_000_000, 1_700_000_000, True,
        )  # fmt: skip

    return WatchCheck(
        (
            PictureCheck(
                picture,
                new=tuple(posting(n) for n in range(new)),
                gone=tuple(posting(100 + n) for n in range(gone)),
            ),
        ),
        searches=1,
    )


def test_the_body_suits_discord_slack_and_scripts() -> None:
    body = webhook_body(_check(new=2, gone=1))
    assert body["content"] == body["text"]
    assert body["content"].splitlines()[0] == "img2img watch: 2 new, 1 gone"
    assert "new: my art at https://x.example/0" in body["content"]
    assert [p["page_url"] for p in body["new"]] == ["https://x.example/0", "https://x.example/1"]
    assert body["gone"][0]["image_url"] == "https://x.example/100.jpg"
    assert len(webhook_body(_check(new=200))["content"]) <= DISCORD_CONTENT_LIMIT


def test_one_post_reaches_an_allowed_receiver() -> None:
    with LoopbackServer(lambda request: Reply(status=204)) as receiver:
        notify_webhook(receiver.url + "/hook", _check(), allowed_networks=LOOPBACK_NETWORKS)
        (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.json()["new"][0]["picture"] == "my art"


def test_a_private_address_is_refused_unless_allowed() -> None:
    received: list[RecordedRequest] = []
    with (
        LoopbackServer(lambda request: (received.append(request), Reply())[1]) as receiver,
        pytest.raises(BlockedURLError),
    ):
        notify_webhook(receiver.url + "/hook", _check())
    assert received == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x.example/", "not a url"])
def test_a_url_that_is_no_webhook_is_refused(url: str) -> None:
    with pytest.raises(Img2ImgError):
        notify_webhook(url, _check())


def test_a_receiver_that_refuses_is_a_service_error() -> None:
    with (
        LoopbackServer(lambda request: Reply(status=400, body=b"bad")) as receiver,
        pytest.raises(ServiceError, match="HTTP 400"),
    ):
        notify_webhook(receiver.url, _check(), allowed_networks=LOOPBACK_NETWORKS)
