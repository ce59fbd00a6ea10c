"""BlueskySource against FakeBluesky: posts to candidates, cursor paging, sign-in, failures."""

from __future__ import annotations

import logging

import pytest
from bluesky_helpers import assert_provenance, recorded_page

from img2img.errors import AuthenticationError, ConfigurationError, RateLimitError
from img2img.sources.bluesky.posts import candidates_from_post
from img2img.sources.bluesky.source import HANDLE_ENV, PAGE_SIZE, PASSWORD_ENV, BlueskySource
from img2img.testing.clock import ManualClock
from img2img.testing.contracts import ImageSourceContract
from img2img.testing.fake_bluesky import FakeBluesky, bluesky_post

SECRET = "zzzz-s3cr-3tpa-ssww"


@pytest.fixture(autouse=True)
def _no_account_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HANDLE_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


class TestBlueskySourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, bsky: FakeBluesky) -> BlueskySource:
        bsky.populate(12)
        return bsky.source()


class TestSignedInBlueskySourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, bsky: FakeBluesky) -> BlueskySource:
        bsky.populate(12)
        return bsky.source(signed_in=True)


# -- what a post gives ------------------------------------------------------------


def test_recorded_posts_give_their_images() -> None:
    found = [c for post in recorded_page()["posts"] for c in candidates_from_post(post)]
    assert [(c.extra["author_did"][-6:], c.extra["image_index"]) for c in found] == [
        ("6qv3rw", 1),  # two images in an images#view
        ("6qv3rw", 2),
        ("lbnpkx", 1),  # the media beside a quoted post
        ("j0h9g8", 1),  # an author whose handle did not verify
    ]  # the link card and the text-only post give nothing
    for candidate in found:
        assert_provenance(candidate, ranked=False)
    painting, detail, quote, sticker = found
    assert (
        painting.page_url == "https://bsky.app/profile/gouachegirl.bsky.social/post/3l7pqx2kzfs2a"
    )
    assert painting.image_url.startswith("https://cdn.bsky.app/img/feed_fullsize/plain/")
    assert painting.thumbnail_url is not None
    assert painting.thumbnail_url.startswith("https://cdn.bsky.app/img/feed_thumbnail/plain/")
    assert painting.title == "Finished my eiffel tower at dusk! Gouache on paper, 30x40cm."
    assert painting.extra["alt_text"].startswith("Gouache painting of the Eiffel Tower")
    assert painting.extra["aspect_ratio"] == 0.75
    assert painting.extra["author_name"] == "Gouache Girl 🎨"
    assert painting.extra["posted_at_unix"] == 1730308904
    assert (painting.width, painting.height) == (None, None)  # a ratio is not a size
    assert "alt_text" not in detail.extra  # empty alt text is left out
    assert "author_name" not in quote.extra
    assert sticker.page_url == (
        "https://bsky.app/profile/did:plc:z9x8c7v6b5n4m3l2k1j0h9g8/post/3l7pk3j2h1g0f"
    )  # an unverified handle gives way to the DID
    assert sticker.extra["language"] == "fr"


def test_search_results_give_ranked_candidates(bsky: FakeBluesky) -> None:
    bsky.add_posts(recorded_page()["posts"])
    found = list(bsky.source().discover("eiffel tower"))
    assert [c.position for c in found] == [1, 2, 3]  # the sticker post says "tour eiffel"
    for candidate in found:
        assert_provenance(candidate)
    request = bsky.search_requests()[0]
    assert (request.param("q"), request.param("limit"), request.param("sort")) == (
        "eiffel tower",
        str(PAGE_SIZE),
        "latest",
    )


def test_filters_are_sent_as_search_parameters(bsky: FakeBluesky) -> None:
    bsky.populate(2)
    source = bsky.source(
        sort="top", language="en", author="artist1.bsky.social", since="2026-01-01"
    )
    list(source.discover("eiffel tower"))
    request = bsky.search_requests()[0]
    assert request.param("sort") == "top"
    assert request.param("lang") == "en"
    assert request.param("author") == "artist1.bsky.social"
    assert request.param("since") == "2026-01-01"


def test_the_same_image_in_several_posts_is_yielded_once(bsky: FakeBluesky) -> None:
    post = bluesky_post("3kaaa", "a.bsky.social", "tower one", images=1)
    again = dict(post, uri=post["uri"].replace("3kaaa", "3kbbb"))  # same blob in another post
    bsky.add_posts([post, again])
    assert len(list(bsky.source().discover("tower"))) == 1


# -- paging -----------------------------------------------------------------------


def test_pages_to_the_end_with_the_cursor(bsky: FakeBluesky) -> None:
    bsky.populate(250)
    found = list(bsky.source(signed_in=True).discover("eiffel tower", limit=1000))
    assert len(found) == 250
    assert [r.param("cursor") for r in bsky.search_requests()] == [None, "100", "200"]
    assert found[0].extra["posted_at"] > found[-1].extra["posted_at"]  # latest first


def test_stops_at_the_limit_and_at_max_pages(bsky: FakeBluesky) -> None:
    bsky.populate(250)
    assert len(list(bsky.source().discover("eiffel tower", limit=150))) == 150
    assert len(bsky.search_requests()) == 2
    assert len(list(bsky.source(max_pages=1).discover("eiffel tower", limit=1000))) == 100


def test_anonymous_search_limited_to_one_page_ends_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeBluesky(anonymous="first-page") as bsky:
        bsky.populate(150)
        with caplog.at_level(logging.WARNING):
            found = list(bsky.source().discover("eiffel tower", limit=1000))
    assert len(found) == 100
    assert HANDLE_ENV in caplog.text


# -- accounts and failures -----------------------------------------------------------


def test_signing_in_searches_with_a_bearer_token(bsky: FakeBluesky) -> None:
    bsky.populate(3)
    source = bsky.source(signed_in=True)
    assert bsky.app_password not in repr(source)
    assert len(list(source.discover("eiffel tower"))) == 3
    session, search = bsky.requests
    assert session.path == "/xrpc/com.atproto.server.createSession"
    assert session.json() == {"identifier": bsky.handle, "password": bsky.app_password}
    assert search.headers["authorization"].startswith("Bearer eyJfake.")


def test_closed_anonymous_search_asks_for_an_account() -> None:
    with FakeBluesky(anonymous="closed") as bsky:
        bsky.populate(3)
        with pytest.raises(AuthenticationError, match=PASSWORD_ENV) as caught:
            list(bsky.source().discover("eiffel tower"))
        assert caught.value.status_code == 403
        assert len(list(bsky.source(signed_in=True).discover("eiffel tower"))) == 3


def test_a_wrong_app_password_is_an_authentication_error(bsky: FakeBluesky) -> None:
    source = bsky.source(handle=bsky.handle, app_password=SECRET)
    with pytest.raises(AuthenticationError, match=HANDLE_ENV) as caught:
        list(source.discover("eiffel tower"))
    assert SECRET not in str(caught.value)
    assert "Invalid identifier or password" in str(caught.value)
    assert len(bsky.requests) == 1  # no search was tried


def test_an_expired_session_is_renewed_once(bsky: FakeBluesky) -> None:
    bsky.populate(150)
    found = bsky.source(signed_in=True).discover("eiffel tower", limit=1000)
    first = [next(found) for _ in range(100)]
    bsky.expire_sessions()
    rest = list(found)
    assert len(first) + len(rest) == 150
    sessions = [r for r in bsky.requests if r.path.endswith("createSession")]
    assert len(sessions) == 2


def test_half_an_account_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HANDLE_ENV, "me.bsky.social")
    with pytest.raises(ConfigurationError, match=PASSWORD_ENV):
        BlueskySource().discover("tower")


def test_an_empty_keyphrase_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="keyphrase"):
        BlueskySource().discover("   ")


def test_a_429_is_waited_out(bsky: FakeBluesky, clock: ManualClock) -> None:
    bsky.populate(3)
    bsky.queue(FakeBluesky.rate_limited(retry_after=3))
    assert len(list(bsky.source(sleep=clock.sleep).discover("eiffel tower"))) == 3
    assert clock.sleeps[0] >= 2.5


def test_a_long_rate_limit_is_an_error(bsky: FakeBluesky, clock: ManualClock) -> None:
    bsky.populate(3)
    bsky.queue(FakeBluesky.rate_limited(retry_after=3600))
    with pytest.raises(RateLimitError):
        list(bsky.source(sleep=clock.sleep).discover("eiffel tower"))
