"""The web archive: index, issue pages, 404, style sheet; built for real from seeds/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import itertools
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from browser import chromium, offline
from golden import assert_matches_golden
from site_pages import broken_links, read_page, serving, snapshot

from newsletter import site
from newsletter.build import build
from newsletter.config import Settings, load_settings
from newsletter.errors import DigestError
from newsletter.model import Digest, Paper

REPO = Path(__file__).resolve().parent.parent
VIDEO_DATE = "2024-02-22"  # the seed whose second paper is a video


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings) -> Path:
    folder = tmp_path_factory.mktemp("site") / "public"
    build(seeds_dir, folder, settings)
    return folder


def page_paths(output: Path) -> list[str]:
    """The web pages of the archive (email.html is the email issue, checked in test_mail)."""
    return sorted(
        p.relative_to(output).as_posix() for p in output.rglob("*.html") if p.name != "email.html"
    )


def test_index_lists_the_recent_issues_newest_first_grouped_by_month(
    output: Path, digests: list[Digest]
) -> None:
    page = read_page(output / "index.html")
    hrefs = [a["href"] for a in page.all("a")]
    issue_links = [href for href in hrefs if href.startswith("issues/") and "#" not in href]
    # The seeds' newest issue is 2024-05-22: the 30 days before it reach back to April 23.
    recent = [d for d in digests if d.date > dt.date(2024, 4, 22)]
    assert 0 < len(recent) < len(digests)
    assert issue_links == [f"issues/{d.slug}/" for d in reversed(recent)]
    months = [h["id"] for h in page.all("h2") if h["id"].startswith("month-")]
    assert months == sorted({f"month-{d.date:%Y-%m}" for d in recent}, reverse=True)
    for digest in recent:
        assert f"논문 {len(digest.papers)}편 · 추천 {digest.total_votes}표" in page.text


def test_index_links_a_page_per_year_that_lists_every_issue_of_it(
    output: Path, digests: list[Digest]
) -> None:
    index = read_page(output / "index.html")
    assert "years/2024/" in [a["href"] for a in index.all("a")]
    year = read_page(output / "years/2024/index.html")
    listed = [a["href"] for a in year.all("a") if "/issues/" in a["href"]]
    assert listed == [f"../../issues/{d.slug}/" for d in reversed(digests)]
    assert [h["id"] for h in year.all("h2")] == ["month-2024-05", "month-2024-04", "month-2024-02"]


def test_index_shows_the_top_papers_of_each_recent_issue_linking_to_their_anchor(
    output: Path, digests: list[Digest]
) -> None:
    hrefs = {a["href"] for a in read_page(output / "index.html").all("a")}
    for digest in site.recent_digests(digests):
        for paper in digest.top_papers[: site.TOP_PAPERS_ON_INDEX]:
            assert f"issues/{digest.slug}/#{paper.anchor}" in hrefs


def test_pages_advertise_atom_rss_json_feed_and_the_weekly_feed(output: Path) -> None:
    for path in page_paths(output):
        alternates = {
            (link["type"], link["href"].rsplit("/", 1)[-1])
            for link in read_page(output / path).all("link")
            if link.get("rel") == "alternate"
        }
        assert alternates == {
            ("application/atom+xml", "feed.xml"),
            ("application/rss+xml", "rss.xml"),
            ("application/feed+json", "feed.json"),
            ("application/atom+xml", "weekly.xml"),
        }, path


def test_every_page_shows_the_sites_mark_as_its_icon(output: Path, settings: Settings) -> None:
    mark = (output / "icon.png").read_bytes()
    assert mark == (REPO / "templates/site/icon.png").read_bytes()
    for path in page_paths(output):
        icons = [
            link["href"]
            for link in read_page(output / path).all("link")
            if link.get("rel") == "icon"
        ]
        (target,) = [urljoin(settings.base_url + path, href) for href in icons]
        assert target == settings.url("icon.png"), path
    # Browsers ask for /favicon.ico on their own (and `serve` answered 404): an ICO
    # directory whose one image is the same PNG.
    favicon = (output / "favicon.ico").read_bytes()
    assert favicon[:6] == b"\x00\x00\x01\x00\x01\x00" and favicon[22:] == mark


def test_an_icon_setting_replaces_the_mark_in_every_page(
    digests: list[Digest], settings: Settings
) -> None:
    branded = dataclasses.replace(settings, icon="https://cdn.example.org/icon.png")
    index = site.site_files(digests, branded)["index.html"].decode()
    assert '<link rel="icon" href="https://cdn.example.org/icon.png">' in index


def test_the_committed_mark_is_what_its_script_draws() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_site_mark", REPO / "scripts/make_site_mark.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name, data in script.mark_files().items():
        assert (REPO / "templates/site" / name).read_bytes() == data, name


def test_issue_page_has_an_anchor_per_paper_and_links_to_its_neighbours(
    output: Path, digests: list[Digest]
) -> None:
    middle = digests[2]
    page = read_page(output / f"issues/{middle.slug}/index.html")
    assert {paper.anchor for paper in middle.papers} <= page.ids
    pager = {a["rel"]: a["href"] for a in page.all("a") if a.get("rel") in ("prev", "next")}
    assert pager == {"prev": f"../{digests[1].slug}/", "next": f"../{digests[3].slug}/"}


def test_first_and_last_issue_link_only_the_way_that_exists(
    output: Path, digests: list[Digest]
) -> None:
    first = read_page(output / f"issues/{digests[0].slug}/index.html")
    last = read_page(output / f"issues/{digests[-1].slug}/index.html")
    assert [a["rel"] for a in first.all("a") if "rel" in a] == ["next"]
    assert [a["rel"] for a in last.all("a") if "rel" in a] == ["prev"]


def test_issue_page_carries_open_graph_tags_with_the_top_thumbnail(
    output: Path, digests: list[Digest], settings: Settings
) -> None:
    digest = digests[-1]
    page = read_page(output / f"issues/{digest.slug}/index.html")
    assert page.meta("og:type") == "article"
    assert page.meta("og:url") == settings.issue_url(digest.slug)
    assert page.meta("og:image") == digest.top_papers[0].thumbnail_url
    assert digest.slug in (page.meta("og:title") or "") or "2024년 5월 22일" in (
        page.meta("og:title") or ""
    )
    description = page.meta("og:description") or ""
    assert 0 < len(description) <= site.DESCRIPTION_LIMIT and "*" not in description


def test_video_entry_is_playable_with_a_link_fallback(output: Path, digests: list[Digest]) -> None:
    digest = next(d for d in digests if d.slug == VIDEO_DATE)
    video_paper = next(paper for paper in digest.papers if paper.video_url)
    page = read_page(output / f"issues/{VIDEO_DATE}/index.html")
    [video] = page.all("video")
    assert video["src"] == video_paper.video_url and "controls" in video
    assert [a for a in page.all("a") if a["href"] == video_paper.video_url]


def test_pages_are_accessible_html5(output: Path, settings: Settings) -> None:
    for path in page_paths(output):
        page = read_page(output / path)
        assert page.all("html")[0]["lang"] == settings.language, path
        assert page.all("main") and page.all("header") and page.all("footer"), path
        levels = [int(tag[1]) for tag, _ in page.elements if tag in ("h1", "h2", "h3")]
        assert levels[0] == 1 and levels.count(1) == 1, path
        assert all(after - before <= 1 for before, after in itertools.pairwise(levels)), path
        assert all(img.get("alt") for img in page.all("img")), path


def test_every_link_reaches_a_built_file_or_an_absolute_url(
    output: Path, settings: Settings
) -> None:
    problems = [
        problem
        for path in page_paths(output)
        for problem in broken_links(output, path, settings.base_url)
    ]
    assert problems == []


def test_not_found_page_links_absolutely_because_pages_serves_it_at_any_path(
    output: Path, settings: Settings
) -> None:
    links = read_page(output / "404.html").links()
    assert links and all(link.startswith((settings.base_url, "#", "mailto:")) for link in links)


def test_markup_in_a_digest_is_escaped_not_injected(settings: Settings) -> None:
    paper = Paper(
        title='<script>alert("x")</script>',
        link="https://arxiv.org/abs/2401.00001",
        arxiv_id="2401.00001",
        thumbnail_url=None,
        video_url=None,
        votes=1,
        authors=("<b>Author</b>",),
        authors_truncated=False,
        bullets=("<img src=x onerror=alert(1)> and [bad](javascript:alert(1))",),
        line=3,
    )
    digest = Digest(dt.date(2024, 1, 1), (paper,), "seeds/x.txt")
    html = site.issue_page_files(digest, None, None, settings)["issues/2024-01-01/index.html"]
    assert b"<script>" not in html and b"<b>" not in html and b"<img src=x" not in html
    assert b'href="javascript:' not in html


def test_a_user_template_overrides_the_built_in_one(
    tmp_path: Path, digests: list[Digest], settings: Settings
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "404.html").write_text("lost: {{ settings.title }}\n", encoding="utf-8")
    own = dataclasses.replace(settings, templates_dir=str(tmp_path))
    files = site.site_files(digests, own)
    assert files["404.html"] == f"lost: {settings.title}\n".encode()
    assert files["index.html"] == site.site_files(digests, settings)["index.html"]


def test_pages_leave_out_the_indentation_of_the_built_in_templates(output: Path) -> None:
    # Safe only where no white-space is preserved (CSS Text 3 §4.1.1): never in these pages.
    builtin = REPO / "templates" / "site"
    for template in sorted(builtin.glob("*.html")):
        assert not re.search(r"<(pre|textarea)\b", template.read_text()), template.name
    style = (builtin / "style.css").read_text()
    assert not re.search(r"white-space:\s*(pre|break-spaces)", style)
    assert "  <" in (builtin / "issue.html").read_text()  # the templates are indented
    for path in page_paths(output):
        assert not re.search(r"^[ \t]", (output / path).read_text(), re.MULTILINE), path


def test_a_user_template_keeps_its_indentation(
    tmp_path: Path, digests: list[Digest], settings: Settings
) -> None:
    (tmp_path / "site").mkdir()
    page = "<pre>\n  lost:\n    {{ settings.title }}\n</pre>\n"
    (tmp_path / "site" / "404.html").write_text(page, encoding="utf-8")
    own = dataclasses.replace(settings, templates_dir=str(tmp_path))
    expected = f"<pre>\n  lost:\n    {settings.title}\n</pre>\n"
    assert site.site_files(digests, own)["404.html"] == expected.encode()


def test_rendering_twice_gives_the_same_bytes(digests: list[Digest], settings: Settings) -> None:
    assert site.site_files(digests, settings) == site.site_files(list(digests), settings)
    first = site.issue_page_files(digests[1], digests[0], digests[2], settings)
    assert first == site.issue_page_files(digests[1], digests[0], digests[2], settings)


def test_failed_build_leaves_the_previous_output_untouched(
    tmp_path: Path, seeds_copy: Path, settings: Settings
) -> None:
    output = tmp_path / "public"
    build(seeds_copy, output, settings)
    before = snapshot(output)
    assert before
    (seeds_copy / "zzz-broken.txt").write_text("## Daily Papers (2024-13-01)\n", encoding="utf-8")
    with pytest.raises(DigestError, match=r"zzz-broken\.txt:1: "):
        build(seeds_copy, output, settings)
    assert snapshot(output) == before


# --- in a real browser -------------------------------------------------------------------

WIDTHS = (375, 1280)


@pytest.fixture(scope="module")
def served(output: Path, settings: Settings) -> Iterator[str]:
    """The built site on 127.0.0.1, under the same path as its base URL."""
    with serving(output, settings) as url:
        yield url


def test_pages_fit_phone_and_desktop_in_light_and_dark(
    served: str, output: Path, digests: list[Digest]
) -> None:
    shots = REPO / "screenshots"
    shots.mkdir(exist_ok=True)
    video_issue = f"issues/{VIDEO_DATE}/"
    expected_titles = {
        "": [
            p.title
            for d in site.recent_digests(digests)
            for p in d.top_papers[: site.TOP_PAPERS_ON_INDEX]
        ],
        "years/2024/": [d.top_papers[0].title for d in digests],
        video_issue: [p.title for d in digests if d.slug == VIDEO_DATE for p in d.papers],
    }
    with chromium() as browser:
        for width in WIDTHS:
            for scheme in ("light", "dark"):
                page = browser.new_page(  # type: ignore[attr-defined]
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                offline(page, served)
                for path, titles in expected_titles.items():
                    page.goto(served + path)
                    overflow = page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth"
                    )
                    assert overflow <= 0, f"{path or 'index'} at {width}px overflows by {overflow}"
                    text = page.inner_text("main")
                    assert all(" ".join(t.split()) in " ".join(text.split()) for t in titles)
                    assert page.evaluate(
                        "[...document.images].every(img => img.alt.trim().length > 0)"
                    )
                    name = (path.strip("/").replace("/", "-") or "index") + f"-{width}-{scheme}"
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                page.close()


def test_index_and_an_issue_page_match_their_golden_files(output: Path) -> None:
    for page in (
        "index.html",
        "issues/2024-02-22/index.html",
        "years/2024/index.html",
        "search/index.html",
    ):
        name = "site/" + page.replace("/", "_")
        assert_matches_golden(name, (output / page).read_text(encoding="utf-8"))


def test_serve_answers_a_browsers_own_favicon_request(tmp_path: Path, seeds_dir: Path) -> None:
    # Served at the root (the default base URL), as a browser asks for /favicon.ico.
    output = tmp_path / "public"
    local = load_settings(None)
    build(seeds_dir, output, local)
    with (
        serving(output, local) as url,
        urllib.request.urlopen(f"{url}favicon.ico", timeout=10) as reply,
    ):
        assert (reply.status, reply.read()) == (200, (output / "favicon.ico").read_bytes())


def test_every_page_offers_daily_and_weekly_subscribe_mailtos_and_the_page(
    output: Path,
) -> None:
    mailto = "mailto:newsletter@example.org?subject=subscribe"
    pages = ("index.html", "issues/2024-05-22/index.html", "subscribe/index.html")
    for page in (*pages, "weekly/2024-W16/index.html", "years/2024/index.html"):
        links = read_page(output / page).links()
        assert mailto in links, page
        assert f"{mailto}%20weekly" in links, page
    explained = (output / "subscribe" / "index.html").read_text(encoding="utf-8")
    assert "subject=subscribe%20weekly" in explained  # the weekly edition
    for topic in ("구독하기", "해지하기", "개인정보"):
        assert f"<h2>{topic}</h2>" in explained
    assert "subscribe/" in read_page(output / "index.html").links()
