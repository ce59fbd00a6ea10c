"""The examples run as a user would run them, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=EXAMPLES.parent
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_quickstart_finds_the_original_of_the_edited_copy_first() -> None:
    out = run_example(str(EXAMPLES / "quickstart.py"))
    assert "indexed 15" in out
    first_row = next(line for line in out.splitlines() if line.startswith("│    1 │"))
    assert "chelsea.png" in first_row
    assert "Original at rank 1: yes" in out


def test_index_keyphrase_runs_against_the_local_stand_ins() -> None:
    out = run_example(str(EXAMPLES / "index_keyphrase.py"), "--local", "--limit", "12")
    assert "discovered 12, indexed 12" in out
    first = out.split("is posted:\n", 1)[1].splitlines()[0]
    assert first.split()[1] == "instagram.com"
    assert first.endswith("/post/eiffel-tower-postcard-3")


def test_discord_reposts_finds_the_reposted_artwork_offline() -> None:
    out = run_example(str(EXAMPLES / "discord_reposts.py"))
    assert "discovered 15, indexed 15" in out
    assert "skipped channel 1300" in out  # the channel closed to the bot
    first = out.split("Where the artwork appears:\n", 1)[1].splitlines()[0]
    assert "#fan-art by reposter" in first
    assert "Repost found at rank 1: https://discord.com/channels/" in out


def test_find_postings_lists_the_reposts_and_not_the_other_shot() -> None:
    out = run_example(str(EXAMPLES / "find_postings.py"))
    listed = out.split("Where is the motorcycle photo posted?\n", 1)[1].split("\n\n", 1)[0]
    pages = ("motors.example", "forum.example", "memes.example", "blog.example", "social.example")
    for page in pages:
        assert page in listed
    assert "shop.example" not in listed
    assert "find_postings calls it a copy: False" in out
    assert "1. " in out
    assert "bike, " in out.split("Grouped search", 1)[1]


def test_locate_verifies_lens_claims_keeps_the_copies_and_finds_them_offline() -> None:
    out = run_example(str(EXAMPLES / "locate.py"))
    listed = out.split("Where is the motorcycle photo posted?\n", 1)[1].split("\n\n", 1)[0]
    for site in ("news.example", "blog.example", "reddit.com", "pinterest.com", "memes.example"):
        assert site in listed
    assert "shop.example" not in listed
    assert "mirrored" in listed
    alike = out.split("Alike, but another picture:\n", 1)[1].split("\n\n", 1)[0]
    assert "shop.example" in alike
    assert "cafe.example" in alike
    assert "fetch  https://deleted.example/post/1: HTTP 404" in out
    assert "2 searches, 1 upload, 8 downloads: 8 claims, verified 5" in out
    assert "Stored: 5 records" in out
    assert "Offline, find_postings finds 5 postings:" in out


def test_watch_leaks_reports_the_new_postings_then_the_one_gone() -> None:
    out = run_example(str(EXAMPLES / "watch_leaks.py"))
    second = out.split("Second check:", 1)[1].split("Third check:", 1)[0]
    assert "2 new, 0 gone" in second
    assert "new   https://blog.example/2026/12/coffee  (found by tineye)" in second
    assert "(found by discord)" in second
    third = out.split("Third check:", 1)[1]
    assert "0 new, 1 gone" in third
    assert "gone  https://blog.example/2026/12/coffee" in third
    assert "still https://discord.com/channels/900/2100/" in third


def test_locate_everywhere_merges_four_engines_claims_into_one_posting() -> None:
    out = run_example(str(EXAMPLES / "locate_everywhere.py"))
    assert "https://blog.example/cats    found by lens, tineye, yandex, saucenao" in out
    assert "found by bing" in out
    assert "yandex   claims 2, verified 1, rejected 1" in out
    assert "The blog's copy was downloaded 1 time(s)." in out
    assert "Posted first: https://blog.example/cats" in out
