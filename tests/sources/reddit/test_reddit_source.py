"""RedditSource against FakeReddit: posts to candidates, paging, subreddits, provenance."""

from __future__ import annotations

import pytest
from reddit_helpers import assert_provenance, recorded_posts

from img2img.sources.reddit.posts import candidates_from_post, unescape_url
from img2img.sources.reddit.source import DEFAULT_USER_AGENT, PAGE_SIZE, RedditSource
from img2img.testing.contracts import ImageSourceContract
from img2img.testing.fake_reddit import FakeReddit
from img2img.testing.reddit_posts import (
    reddit_gallery_post,
    reddit_image_post,
    reddit_link_post,
)


class TestRedditSourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, reddit: FakeReddit) -> RedditSource:
        reddit.populate("ArtHistory", 12)
        return reddit.source()


class TestRedditSourceWithOAuthContract(ImageSourceContract):
    @pytest.fixture
    def source(self, reddit: FakeReddit) -> RedditSource:
        reddit.populate("ArtHistory", 12)
        return reddit.source(oauth=True, subreddits=["ArtHistory"])


# -- what a post gives ------------------------------------------------------------


def test_recorded_posts_give_their_images() -> None:
    found = [c for post in recorded_posts() for c in candidates_from_post(post)]
    assert [(c.extra["post_id"], c.extra["image_kind"]) for c in found] == [
        ("t3_1gfa2b3", "image"),  # i.redd.it
        ("t3_1gf8k1m", "gallery"),  # in gallery_data order; the unprocessed item is left out
        ("t3_1gf8k1m", "gallery"),
        ("t3_1gf7z2q", "preview"),  # a link: Reddit's preview of the page
        ("t3_1gf5c4d", "image"),  # a crosspost shows its parent's image
        ("t3_1gf4a1a", "image"),  # marked over 18; the source decides
    ]  # the video's still and the text post give nothing
    for candidate in found:
        assert_provenance(candidate, ranked=False)  # the source numbers them
    image, first, second, link, crosspost, nsfw = found
    assert image.image_url == "https://i.redd.it/4n7w2k8x1lxd1.jpeg"
    assert (image.width, image.height) == (3024, 4032)
    assert image.extra["preview_url"] == (
        "https://preview.redd.it/4n7w2k8x1lxd1.jpeg?auto=webp&s=3f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a098"
    )
    assert image.page_url == (
        "https://www.reddit.com/r/Art/comments/1gfa2b3/eiffel_tower_at_dusk_me_gouache_2024/"
    )
    assert image.extra["posted_at_unix"] == 1730310251
    assert image.extra["score"] == 2231
    assert first.image_url.startswith(
        "https://preview.redd.it/q7p1z0e2lxd1.png?width=1500&format=png"
    )
    assert (first.extra["gallery_index"], first.extra["caption"]) == (
        1,
        "eiffel tower from Trocadéro",
    )
    assert (second.width, second.height) == (2048, 1536)
    assert link.extra["link_url"] == (
        "https://museum.example/essays/eiffel-tower-in-painting?ref=rss&utm_source=reddit"
    )
    assert crosspost.image_url == image.image_url
    assert crosspost.page_url is not None
    assert crosspost.page_url.startswith("https://www.reddit.com/r/pics/")
    assert crosspost.extra["crosspost_of"] == image.page_url
    assert nsfw.extra["over_18"] is True


def test_unescaping_undoes_only_what_reddit_escapes() -> None:
    assert unescape_url("https://x/a.jpg?w=1&amp;s=2") == "https://x/a.jpg?w=1&s=2"
    # A general HTML unescape would turn "&not" into "¬".
    assert unescape_url("https://x/a.jpg?w=1&not=2") == "https://x/a.jpg?w=1&not=2"


def test_escaped_pages_are_read_like_raw_ones(reddit: FakeReddit) -> None:
    # The recorded page is escaped; served as it is, it must give the same URLs.
    reddit.add_posts("Art", recorded_posts())
    found = list(reddit.source(subreddits=["Art"]).discover("eiffel tower"))
    assert [c.extra["post_id"] for c in found] == [
        "t3_1gfa2b3",
        "t3_1gf8k1m",
        "t3_1gf8k1m",
        "t3_1gf7z2q",
    ]  # the crosspost's image is the first one again; the over-18 post is skipped
    for candidate in found:
        assert_provenance(candidate)
    request = reddit.listing_requests()[0]
    assert (request.param("raw_json"), request.param("restrict_sr")) == ("1", "1")
    assert request.param("type") == "link"


def test_reddit_escapes_without_raw_json(reddit: FakeReddit) -> None:
    import httpx

    reddit.add_posts("Art", [reddit_image_post("a1", "Art", "Q&A tower")])
    raw = httpx.get(f"{reddit.url}/r/Art/new.json", params={"raw_json": "1"}).json()
    escaped = httpx.get(f"{reddit.url}/r/Art/new.json").json()
    assert raw["data"]["children"][0]["data"]["title"] == "Q&A tower"
    assert escaped["data"]["children"][0]["data"]["title"] == "Q&amp;A tower"


def test_over_18_posts_are_skipped_unless_asked_for(reddit: FakeReddit) -> None:
    reddit.add_posts(
        "Art",
        [
            reddit_image_post("a1", "Art", "tower study", over_18=True),
            reddit_image_post("a2", "Art", "tower sketch"),
        ],
    )
    assert [c.extra["post_id"] for c in reddit.source().discover("tower")] == ["t3_a2"]
    both = reddit.source(include_nsfw=True).discover("tower")
    assert [c.extra["post_id"] for c in both] == ["t3_a1", "t3_a2"]
    assert reddit.listing_requests()[-1].param("include_over_18") == "on"


def test_the_same_image_in_several_posts_is_yielded_once(reddit: FakeReddit) -> None:
    shared = "https://i.imgur.com/Same123.png"
    reddit.add_posts(
        "Art",
        [
            reddit_link_post("a1", "Art", "tower original", shared),
            reddit_link_post("a2", "Art", "tower repost", shared),
            reddit_gallery_post("a3", "Art", "tower gallery", [("m1", 800, 600), ("m1", 800, 600)]),
        ],
    )
    found = list(reddit.source().discover("tower"))
    assert [(c.extra["post_id"], c.image_url.split("?")[0]) for c in found] == [
        ("t3_a1", shared),
        ("t3_a3", "https://preview.redd.it/m1.jpg"),
    ]


# -- paging and listings ----------------------------------------------------------


def test_pages_to_the_end_with_after(reddit: FakeReddit) -> None:
    reddit.populate("Art", 250)
    found = list(reddit.source(subreddits=["Art"]).discover("eiffel tower", limit=1000))
    assert len(found) == 250
    requests = reddit.listing_requests()
    assert [r.param("limit") for r in requests] == [str(PAGE_SIZE)] * 3
    assert [r.param("after") for r in requests] == [None, "t3_art00099", "t3_art00199"]


def test_stops_paging_once_the_limit_is_reached(reddit: FakeReddit) -> None:
    reddit.populate("Art", 250)
    assert len(list(reddit.source().discover("eiffel tower", limit=120))) == 120
    assert len(reddit.listing_requests()) == 2


def test_an_empty_keyphrase_reads_the_newest_posts(reddit: FakeReddit) -> None:
    reddit.populate("Art", 5)
    found = list(reddit.source(subreddits=["r/Art"]).discover(""))
    assert [c.title for c in found][:2] == ["eiffel tower #4", "eiffel tower #3"]
    assert reddit.listing_requests()[0].path == "/r/Art/new.json"


def test_subreddits_are_read_in_turn(reddit: FakeReddit) -> None:
    reddit.populate("Art", 3)
    reddit.populate("drawing", 2, text="eiffel tower sketch")
    source = reddit.source(subreddits=["https://www.reddit.com/r/Art/", "drawing"])
    found = list(source.discover("eiffel tower"))
    assert [c.extra["subreddit"] for c in found] == ["Art"] * 3 + ["drawing"] * 2
    assert [r.path for r in reddit.listing_requests()] == [
        "/r/Art/search.json",
        "/r/drawing/search.json",
    ]


def test_a_descriptive_user_agent_is_sent(
    reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    reddit.populate("Art", 1)
    monkeypatch.delenv("REDDIT_USER_AGENT", raising=False)
    list(reddit.source().discover("tower"))
    assert reddit.requests[-1].headers["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("python:img2img:v")
    monkeypatch.setenv("REDDIT_USER_AGENT", "linux:com.example.finder:v2 (by /u/someone)")
    list(reddit.source().discover("tower"))
    assert (
        reddit.requests[-1].headers["user-agent"] == "linux:com.example.finder:v2 (by /u/someone)"
    )


def test_oauth_reads_the_oauth_host_with_a_bearer_token(reddit: FakeReddit) -> None:
    reddit.populate("Art", 3)
    found = list(reddit.source(oauth=True, subreddits=["Art"]).discover("eiffel tower"))
    assert len(found) == 3
    token_request, listing = reddit.requests
    assert token_request.path == "/api/v1/access_token"
    assert listing.path == "/r/Art/search"  # the OAuth host has no .json suffix
    assert listing.headers["authorization"].startswith("bearer fake-reddit-oauth-")


def test_subreddit_names_are_checked() -> None:
    from img2img.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="subreddit"):
        RedditSource(["not a name!"])
    with pytest.raises(ConfigurationError, match="sort"):
        RedditSource(sort="best")
    with pytest.raises(ConfigurationError, match="subreddits"):
        RedditSource().discover("")
