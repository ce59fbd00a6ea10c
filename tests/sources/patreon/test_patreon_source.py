"""PatreonSource against FakePatreon: posts to candidates, JSON:API paging, token, failures."""

from __future__ import annotations

import pytest
from patreon_helpers import CAMPAIGN, assert_provenance, recorded_page

from img2img.errors import AuthenticationError, ConfigurationError, RateLimitError, ServiceError
from img2img.models import ImageCandidate
from img2img.sources.patreon.posts import candidates_from_post, parse_content
from img2img.sources.patreon.source import PAGE_SIZE, POST_FIELDS, TOKEN_ENV, PatreonSource
from img2img.testing.clock import ManualClock
from img2img.testing.contracts import ImageSourceContract
from img2img.testing.fake_patreon import (
    POST_ATTRIBUTES,
    FakePatreon,
    patreon_media_url,
    patreon_post,
)

SECRET = "s3cr3t-patreon-creator-token-value"


class TestPatreonSourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, patreon: FakePatreon) -> PatreonSource:
        patreon.populate(patreon.campaign_id, 12)
        return patreon.source()


# -- what a post gives ------------------------------------------------------------


def _recorded_candidates(words: tuple[str, ...] = ()) -> list[ImageCandidate]:
    page = recorded_page()
    included = {(i["type"], i["id"]): i["attributes"] for i in page["included"]}
    return [
        c
        for post in page["data"]
        for c in candidates_from_post(post, campaign_id=CAMPAIGN, included=included, words=words)
    ]


def test_recorded_posts_give_their_images() -> None:
    found = _recorded_candidates()
    assert [(c.extra["post_id"], c.extra["image_kind"]) for c in found] == [
        ("114211092", "inline"),  # two <img> tags; the data: URI spacer is left out
        ("114211092", "inline"),
        ("114002211", "embed"),  # an embedded image link
    ]  # the video embed gives nothing
    for candidate in found:
        assert_provenance(candidate, ranked=False)
    full, process, print_ = found
    assert full.page_url == "https://www.patreon.com/posts/eiffel-tower-at-114211092"
    assert "&amp;" not in full.image_url
    assert full.image_url.endswith(
        "/1.jpg?token-time=1730764800&token-hash=Q2xvdWRzIG9uIGEgc3VubnkgZGF5LiBTa2V0Y2hib29rIQ%3D%3D"
    )
    assert full.title == "Eiffel Tower at Dusk — full resolution"
    assert full.extra["alt_text"] == "Eiffel Tower at dusk, gouache"
    assert (full.extra["author"], full.extra["campaign"]) == ("Mona Laurent", "monapaints")
    assert full.extra["is_public"] is False
    assert full.extra["posted_at_unix"] == 1730304003
    assert "alt_text" not in process.extra
    assert print_.page_url == "https://www.patreon.com/posts/prints-114002211"  # already absolute
    assert print_.image_url == "https://shop.example/cdn/eiffel-tower-print-large.jpg"


def test_keyphrase_filters_by_title_text_and_embed() -> None:
    assert len(_recorded_candidates(("eiffel", "tower"))) == 3  # the print matches by its embed
    assert [c.extra["post_id"] for c in _recorded_candidates(("process", "shots"))] == [
        "114211092",
        "114211092",
    ]
    assert _recorded_candidates(("studio", "tour")) == []  # that post has no image


def test_content_html_is_read_with_a_parser() -> None:
    body = parse_content(
        '<p>A &amp; B</p><img alt="x" src="https://a.example/1.png?a=1&amp;b=2">'
        '<img src="javascript:alert(1)"><IMG SRC="https://a.example/2.png">'
    )
    assert body.images == [
        ("https://a.example/1.png?a=1&b=2", "x"),
        ("https://a.example/2.png", None),
    ]
    assert body.plain == "A & B"


def test_only_documented_fields_are_asked_for(patreon: FakePatreon) -> None:
    patreon.populate(patreon.campaign_id, 2)
    list(patreon.source().discover(""))
    request = patreon.requests[-1]
    assert set(request.param("fields[post]", "").split(",")) <= POST_ATTRIBUTES
    assert request.param("fields[post]") == POST_FIELDS
    assert request.param("include") == "user,campaign"


def test_the_same_image_in_several_posts_is_yielded_once(patreon: FakePatreon) -> None:
    url = patreon_media_url("777", "a")
    resigned = url.replace("token-hash=abc777=", "token-hash=xyz999=")
    patreon.add_posts(
        patreon.campaign_id,
        [
            patreon_post("1", "tower", f'<img src="{url}">'),
            patreon_post("2", "tower again", f'<img src="{resigned}">'),
        ],
    )
    assert [c.extra["post_id"] for c in patreon.source().discover("tower")] == ["1"]


# -- paging and campaigns -----------------------------------------------------------


def test_pages_to_the_end_with_the_cursor(patreon: FakePatreon) -> None:
    patreon.populate(patreon.campaign_id, 120)
    found = list(patreon.source().discover("eiffel tower", limit=1000))
    assert len(found) == 120
    pages = [r for r in patreon.requests if r.path.endswith("/posts")]
    assert [r.param("page[count]") for r in pages] == [str(PAGE_SIZE)] * 3
    cursors = [r.param("page[cursor]") for r in pages]
    assert cursors[0] is None
    assert None not in cursors[1:]
    assert len(set(cursors)) == 3


def test_the_tokens_campaigns_are_read_when_none_is_named(patreon: FakePatreon) -> None:
    patreon.populate(patreon.campaign_id, 2)
    assert len(list(patreon.source().discover(""))) == 2
    assert patreon.requests[0].path == "/api/oauth2/v2/campaigns"
    named = patreon.source(campaigns=[patreon.campaign_id])
    before = len(patreon.requests)
    list(named.discover(""))
    assert all(r.path.endswith("/posts") for r in patreon.requests[before:])


def test_a_campaign_of_another_creator_is_skipped_and_reported(patreon: FakePatreon) -> None:
    patreon.populate(patreon.campaign_id, 2)
    patreon.add_campaign("999", vanity="someoneelse", owned=False)
    source = patreon.source(campaigns=["999", patreon.campaign_id, "404404"])
    assert len(list(source.discover(""))) == 2
    assert [(f.part, f.status_code) for f in source.failures] == [
        ("campaign 999", 403),
        ("campaign 404404", 404),
    ]


def test_a_campaign_the_token_cannot_read_alone_is_an_authentication_error(
    patreon: FakePatreon,
) -> None:
    patreon.add_campaign("999", vanity="someoneelse", owned=False)
    with pytest.raises(AuthenticationError, match=r"campaigns\.posts") as caught:
        list(patreon.source(campaigns=["999"]).discover(""))
    assert caught.value.status_code == 403


# -- the token and rate limits -------------------------------------------------------


def test_a_refused_token_is_an_authentication_error_naming_the_variable(
    patreon: FakePatreon,
) -> None:
    source = patreon.source(access_token=SECRET)
    assert SECRET not in repr(source)
    with pytest.raises(AuthenticationError, match=TOKEN_ENV) as caught:
        list(source.discover(""))
    assert SECRET not in str(caught.value)
    assert caught.value.status_code == 401


def test_missing_token_is_a_configuration_error(
    patreon: FakePatreon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigurationError, match=TOKEN_ENV):
        PatreonSource(base_url=patreon.url).discover("")
    assert patreon.requests == []
    monkeypatch.setenv(TOKEN_ENV, patreon.access_token)
    patreon.populate(patreon.campaign_id, 1)
    assert len(list(PatreonSource(base_url=patreon.url).discover(""))) == 1
    assert patreon.requests[-1].headers["user-agent"].startswith("img2img/")


def test_a_429_is_waited_out(patreon: FakePatreon, clock: ManualClock) -> None:
    patreon.populate(patreon.campaign_id, 3)
    patreon.queue(FakePatreon.rate_limited(retry_after=4.0))
    assert len(list(patreon.source(sleep=clock.sleep).discover(""))) == 3
    assert clock.sleeps[0] >= 4.0


def test_a_long_rate_limit_is_an_error(patreon: FakePatreon, clock: ManualClock) -> None:
    patreon.populate(patreon.campaign_id, 3)
    patreon.queue(FakePatreon.rate_limited(retry_after=7200.0))
    with pytest.raises(RateLimitError):
        list(patreon.source(sleep=clock.sleep).discover(""))


def test_an_unknown_field_is_refused_by_the_fake_as_by_patreon(patreon: FakePatreon) -> None:
    import httpx

    response = httpx.get(
        f"{patreon.url}/api/oauth2/v2/campaigns/{patreon.campaign_id}/posts",
        params={"fields[post]": "title,image"},
        headers={"Authorization": f"Bearer {patreon.access_token}", "User-Agent": "t"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code_name"] == "ParameterInvalidOnType"


def test_bad_campaign_ids_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="campaign id"):
        PatreonSource(["pixelpainter"])
    with pytest.raises(ConfigurationError, match="list"):
        PatreonSource("4567890")  # type: ignore[arg-type]


def test_a_deleted_campaign_alone_is_a_clear_error(patreon: FakePatreon) -> None:
    patreon.delete_campaign(patreon.campaign_id)
    with pytest.raises(ServiceError, match="no campaign") as caught:
        list(patreon.source(campaigns=[patreon.campaign_id]).discover(""))
    assert caught.value.status_code == 404
