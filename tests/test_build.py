"""Build orchestration: incremental builds equal cold ones, the cache never serves stale or
damaged output, and a failed build leaves the previous output as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from site_pages import snapshot

from newsletter import build as build_module
from newsletter.build import build
from newsletter.config import Settings
from newsletter.errors import DigestError


def add_digest(
    seeds: Path, name: str, date: str, template: str = "000_ead36ab510c9cfc0.txt"
) -> Path:
    text = (seeds / template).read_text(encoding="utf-8")
    _header, rest = text.split("\n", 1)
    target = seeds / name
    target.write_text(f"## Daily Papers ({date})\n{rest}", encoding="utf-8")
    return target


def cold_build(seeds: Path, settings: Settings, scratch: Path) -> dict[str, bytes]:
    output = scratch / "cold-output"
    build(seeds, output, settings, cache_dir=scratch / "cold-cache")
    return snapshot(output)


def test_incremental_builds_match_a_cold_build(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    # Two entries a feed page, so archive pages fill, get cached and are reused.
    settings = Settings(**{**settings.__dict__, "feed_entries": 2})
    output, cache = tmp_path / "public", tmp_path / "cache"
    first = build(seeds_copy, output, settings, cache_dir=cache)
    assert (first.rendered, first.reused) == (5, 0)

    add_digest(seeds_copy, "005_new.txt", "2024-05-23")
    second = build(seeds_copy, output, settings, cache_dir=cache)
    # The new issue, and the one before it (its "next issue" link changed), are rendered.
    assert second.rendered == 2 and second.reused == 4

    edited = seeds_copy / "002_ed020bbff217edc1.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Vote: 40", "Vote: 41"))
    build(seeds_copy, output, settings, cache_dir=cache)
    (seeds_copy / "004_73ddd00b02cb327c.txt").unlink()
    build(seeds_copy, output, settings, cache_dir=cache)
    retitled = Settings(**{**settings.__dict__, "title": "다른 제목"})
    build(seeds_copy, output, retitled, cache_dir=cache)

    assert snapshot(output) == cold_build(seeds_copy, retitled, tmp_path / "cold")


def test_rebuild_with_nothing_changed_renders_nothing_and_changes_no_byte(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds_copy, output, settings, cache_dir=cache)
    before = snapshot(output)
    again = build(seeds_copy, output, settings, cache_dir=cache)
    assert again.rendered == 0 and again.reused == 5
    assert snapshot(output) == before


def test_damaged_cache_costs_time_not_correctness(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds_copy, output, settings, cache_dir=cache)
    for index, path in enumerate(sorted(p for p in cache.rglob("*") if p.is_file())):
        if index % 2:
            path.write_bytes(b"\x80garbage")
        else:
            path.unlink()
    build(seeds_copy, output, settings, cache_dir=cache)
    assert snapshot(output) == cold_build(seeds_copy, settings, tmp_path / "cold")


def test_process_pool_build_equals_serial_build(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "_POOL_THRESHOLD", 1)
    build(seeds_copy, tmp_path / "pooled", settings, cache_dir=tmp_path / "c1", workers=2)
    build(seeds_copy, tmp_path / "serial", settings, cache_dir=tmp_path / "c2", workers=1)
    assert snapshot(tmp_path / "pooled") == snapshot(tmp_path / "serial")


def test_failed_build_leaves_previous_output_untouched(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output = tmp_path / "public"
    build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    before = snapshot(output)
    broken = add_digest(seeds_copy, "009_broken.txt", "2024-06-01")
    broken.write_text(broken.read_text(encoding="utf-8").replace("Vote: 55", "Votes: 55"))
    with pytest.raises(DigestError) as raised:
        build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    assert str(raised.value).startswith(f'{broken.as_posix()}:7: expected "Vote: <number>"')
    assert snapshot(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "public", "seeds"]


def test_every_problem_of_every_file_is_reported_together(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    add_digest(seeds_copy, "010_same_day.txt", "2024-05-22")
    bad = seeds_copy / "003_52246dbd5c5a1e2f.txt"
    bad.write_text(bad.read_text(encoding="utf-8").replace("Vote: 50", "Vote: fifty"))
    with pytest.raises(DigestError) as raised:
        build(seeds_copy, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    messages = [str(problem) for problem in raised.value.problems]
    assert any("003_52246dbd5c5a1e2f.txt:7: the vote count" in m for m in messages)
    assert any("010_same_day.txt:1: the date 2024-05-22 is already used by" in m for m in messages)


def test_changing_a_template_rebuilds_what_uses_it(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    own_templates = tmp_path / "templates"
    (own_templates / "feed").mkdir(parents=True)
    entry = own_templates / "feed" / "issue.html"
    entry.write_text("<p>first wording</p>\n", encoding="utf-8")
    mine = Settings(**{**settings.__dict__, "templates_dir": str(own_templates)})
    build(seeds_copy, output, mine, cache_dir=cache)
    assert "first wording" in (output / "feed.xml").read_text(encoding="utf-8")

    entry.write_text("<p>second wording</p>\n", encoding="utf-8")
    again = build(seeds_copy, output, mine, cache_dir=cache)
    feed = (output / "feed.xml").read_text(encoding="utf-8")
    assert "second wording" in feed and "first wording" not in feed
    assert again.rendered == 5
