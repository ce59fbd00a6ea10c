"""``img2img locate --engine a,b`` in its own process: several engines, their table, exit codes."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import run_cli
from test_locate_cli import POSTED, Lookup
from test_locate_cli import lookup as lookup  # the fixture, shared

from img2img.testing.fake_tineye import FakeTinEye, tineye_match

LOOPBACK = ("--allow-network", "127.0.0.0/8")


def _tineye_env(tineye: FakeTinEye) -> dict[str, str]:
    return {"TINEYE_API_KEY": tineye.api_key, "TINEYE_BASE_URL": tineye.base_url}


def test_two_engines_named_share_their_claims_and_report_a_row_each(
    lookup: Lookup, store: Path, home: Path
) -> None:
    shared = lookup.web.url + "/a.jpg"  # Lens claims it too
    with FakeTinEye() as tineye:
        tineye.serve(
            [tineye_match(shared, "https://old.example/2012/bike", crawl_date="2012-04-01")]
        )
        done = run_cli(
            "--store", store, "locate", lookup.query, "--engine", "lens,tineye", "--json",
            *LOOPBACK, home=home, **lookup.env(), **_tineye_env(tineye),
        )  # fmt: skip
    assert done.code == 0, done.err
    answer = done.json()
    engines = {e["engine"]: e for e in answer["report"]["engines"]}
    assert list(engines) == ["lens", "tineye"]
    assert (engines["tineye"]["claims"], engines["tineye"]["verified"]) == (1, 1)
    assert engines["lens"]["claims"] == len(POSTED)
    assert answer["report"]["searches"] == 2
    gets = [r.path for r in lookup.web.requests if r.method == "GET"]
    assert gets.count("/a.jpg") == 1  # claimed by both, downloaded once
    posting = next(p for p in answer["postings"] if p["image_url"] == shared)
    assert posting["engines"] == ["lens", "tineye"]
    assert posting["first_seen"] == 1333238400  # 2012-04-01, TinEye's date before Lens's 2020


def test_an_engine_named_that_fails_exits_3_and_the_others_postings_stand(
    lookup: Lookup, store: Path, home: Path
) -> None:
    with FakeTinEye() as tineye:
        tineye.remaining = 0
        done = run_cli(
            "--store", store, "locate", lookup.query, "--engine", "lens", "--engine", "tineye",
            *LOOPBACK, home=home, **lookup.env(), **_tineye_env(tineye),
        )  # fmt: skip
    assert done.code == 3, done.err
    assert "tineye" in done.out
    assert "skipped: quota spent" in done.out
    assert "news.example" in done.out  # Lens's postings are all there


def test_an_engine_asked_only_because_its_key_is_set_does_not_fail_the_run(
    lookup: Lookup, store: Path, home: Path
) -> None:
    with FakeTinEye() as tineye:
        tineye.remaining = 0
        done = run_cli(
            "--store", store, "locate", lookup.query, "--json", *LOOPBACK,
            home=home, **lookup.env(), **_tineye_env(tineye),
        )  # fmt: skip
    assert done.code == 0, done.err
    status = {e["engine"]: e["status"] for e in done.json()["report"]["engines"]}
    assert status["tineye"] == "skipped"
    assert status["lens"] == "ok"
    assert status["bing"] == "skipped"  # a local picture: Bing takes public URLs only


def test_a_budget_below_the_engines_asked_skips_the_last(
    lookup: Lookup, store: Path, home: Path
) -> None:
    with FakeTinEye() as tineye:
        done = run_cli(
            "--store", store, "locate", lookup.query, "--engine", "lens,tineye",
            "--max-searches", "1", "--json", *LOOPBACK,
            home=home, **lookup.env(), **_tineye_env(tineye),
        )  # fmt: skip
        assert tineye.searches == []
    assert done.code == 3, done.err
    engines = {e["engine"]: e for e in done.json()["report"]["engines"]}
    assert engines["tineye"]["skipped"] == "budget: 1 searches needed, 0 left"


def test_an_engine_that_is_not_installed_is_a_usage_error(
    lookup: Lookup, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "locate", lookup.query, "--engine", "lens,altavista",
        home=home, **lookup.env(),
    )  # fmt: skip
    assert done.code == 2
    assert "altavista" in done.err


def test_five_engines_from_the_command_in_one_locate(
    lookup: Lookup, store: Path, home: Path
) -> None:
    from img2img.testing.fake_saucenao import FakeSauceNao, sauce_result
    from img2img.testing.fake_yandex import FakeYandex, yandex_image

    shared = lookup.web.url + "/a.jpg"
    lookup.files["/query.png"] = lookup.query.read_bytes()
    lookup.serp.reverse.serve(
        "bing_reverse_image",
        {"pages_including": [{"link": "https://walls.example/1", "original": shared}]},
    )
    with (
        FakeTinEye() as tineye,
        FakeYandex() as yandex,
        FakeSauceNao(short_limit=50) as sauce,
    ):
        tineye.serve([tineye_match(shared, "https://old.example/2012/bike")])
        yandex.serve([yandex_image(shared, "https://vk.example/1")])
        sauce.serve([sauce_result(shared, ["https://art.example/works/1"])])
        done = run_cli(
            "--store", store, "locate", lookup.web.url + "/query.png", "--json",
            "--engine", "lens,tineye,yandex,saucenao,bing", *LOOPBACK, home=home,
            **lookup.env(), **_tineye_env(tineye),
            YANDEX_SEARCH_API_KEY=yandex.api_key, YANDEX_SEARCH_BASE_URL=yandex.url,
            YANDEX_FOLDER_ID="b1gfolder",
            SAUCENAO_API_KEY=sauce.api_key, SAUCENAO_BASE_URL=sauce.url,
        )  # fmt: skip
    assert done.code == 0, done.err
    answer = done.json()
    engines = {e["engine"]: e for e in answer["report"]["engines"]}
    assert list(engines) == ["lens", "tineye", "yandex", "saucenao", "bing"]
    assert all(e["status"] == "ok" for e in engines.values())
    gets = [r.path for r in lookup.web.requests if r.method == "GET"]
    assert gets.count("/a.jpg") == 1  # five engines name it: downloaded once
    posting = next(p for p in answer["postings"] if p["image_url"] == shared)
    assert posting["engines"] == ["lens", "tineye", "yandex", "saucenao", "bing"]
