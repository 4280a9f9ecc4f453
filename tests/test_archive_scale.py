"""The archive at scale: 400 synthetic issues (benchmarks/run.py's corpus), built for real with
search, served by `newsletter serve`'s server under the Pages base path, read in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import feedparser
import pytest
from browser import axe_core_path, chromium, offline
from commands import newsletter
from site_pages import read_page, serving, snapshot
from test_benchmark_data import load_benchmark

from newsletter import feeds, search, site
from newsletter.build import build
from newsletter.config import Settings
from newsletter.model import Digest
from newsletter.parse import parse_files

ISSUES = 400  # 2010-01-01 … 2011-02-04: a past year (one index) and two months of the newest
LONG_AUTHORS = 664  # as many as the longest real author list
BASE = "http://archive.test/newsletter/"  # stands for the base URL in link arithmetic
TEXT_BLOCK_LIMIT = 2000

# Rendered blocks whose children are all inline: the text a reader sees as one block.
LONGEST_TEXT_BLOCK = """() => {
  const inline = (el) => getComputedStyle(el).display.startsWith("inline");
  let longest = "";
  for (const el of document.body.querySelectorAll("*")) {
    if (inline(el) || !el.checkVisibility()) continue;
    if ([...el.children].some((child) => !inline(child) && child.checkVisibility())) continue;
    const text = el.innerText.trim();
    if (text.length > longest.length) longest = text;
  }
  return longest;
}"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seeds = tmp_path_factory.mktemp("archive") / "seeds"
    paths = load_benchmark().write_synthetic_archive(seeds, ISSUES)
    newest = paths[-1]
    text = newest.read_text(encoding="utf-8")
    start = text.index("Authors: ")
    end = text.index("\n", start)
    names = ", ".join(f"Author{n:03d} Surname{n:03d}" for n in range(LONG_AUTHORS))
    newest.write_text(text[:start] + "Authors: " + names + text[end:], encoding="utf-8")
    return seeds


@pytest.fixture(scope="module")
def big_settings(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "css_inliner": "css-inline"})


@pytest.fixture(scope="module")
def big_digests(archive: Path) -> list[Digest]:
    return parse_files([archive])


@pytest.fixture(scope="module")
def public(archive: Path, big_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("public") / "public"
    build(archive, output, big_settings, cache_dir=tmp_path_factory.mktemp("cache"))
    return output


@pytest.fixture(scope="module")
def served(public: Path, big_settings: Settings) -> Iterator[str]:
    with serving(public, big_settings) as url:
        assert url.endswith("/newsletter/")  # served under the Pages path
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def open_page(browser: Any, served: str, width: int = 1280, scheme: str = "light") -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    offline(page, served)
    return page


def search_in_browser(page: Any, served: str, query: str) -> list[str]:
    page.goto(f"{served}search/?q={quote(query)}")
    page.wait_for_function("document.getElementById('search-status').textContent.includes('”:')")
    return [a.get_attribute("href") for a in page.locator("#search-results > li h2 a").all()]


# --- navigation ----------------------------------------------------------------------------


def test_index_stays_small_and_reaches_every_issue_in_two_clicks(
    public: Path, big_digests: list[Digest]
) -> None:
    assert (public / "index.html").stat().st_size < 100_000

    def pages_linked_from(path: str) -> set[str]:
        page_url = urljoin(BASE, path.removesuffix("index.html"))
        linked = {
            urljoin(page_url, href).split("#")[0] for href in read_page(public / path).links()
        }
        return {url[len(BASE) :] for url in linked if url.startswith(BASE)}

    first_click = pages_linked_from("index.html")
    years = sorted(p for p in first_click if p.startswith("years/"))
    assert years == ["years/2010/", "years/2011/"]
    second_click = set().union(*(pages_linked_from(p + "index.html") for p in years))
    every_issue = {site.issue_path(d) for d in big_digests}
    assert every_issue <= first_click | second_click
    assert len(every_issue) == ISSUES


def test_issue_pages_keep_their_previous_and_next_links(
    public: Path, big_digests: list[Digest]
) -> None:
    middle = big_digests[200]
    page = read_page(public / site.issue_path(middle) / "index.html")
    pager = {a["rel"]: a["href"] for a in page.all("a") if a.get("rel") in ("prev", "next")}
    assert pager == {"prev": f"../{big_digests[199].slug}/", "next": f"../{big_digests[201].slug}/"}


# --- search --------------------------------------------------------------------------------


def test_search_finds_english_and_korean_words_in_every_index(
    public: Path, served: str, browser: Any, big_digests: list[Digest]
) -> None:
    indexes = sorted(p.name for p in (public / "pagefind").iterdir())
    assert indexes == ["2010", "2011-01", "2011-02"]
    page = open_page(browser, served)
    for word in ("Transformer", "트랜스포머"):
        hrefs = search_in_browser(page, served, word)
        assert hrefs, word
        # Results come from merged indexes: more issues than the newest month holds.
        total = int(page.inner_text("#search-status").split("개 호")[0].split()[-1])
        assert total > 31, word
        assert all(href.startswith("/newsletter/issues/") for href in hrefs), hrefs
        page.goto(urljoin(served, hrefs[0]))
        assert word.lower() in page.inner_text("main").lower()
    page.close()


def test_the_search_box_on_the_index_leads_to_results(served: str, browser: Any) -> None:
    page = open_page(browser, served, width=375)
    page.goto(served)
    page.fill("#search-query", "Diffusion")
    page.press("#search-query", "Enter")
    page.wait_for_url("**/search/?q=Diffusion")
    page.wait_for_selector("#search-results > li")
    assert "찾았습니다" in page.inner_text("#search-status")
    page.close()


def test_search_index_holds_paper_text_not_page_chrome(
    served: str, browser: Any, big_digests: list[Digest]
) -> None:
    page = open_page(browser, served)
    assert search_in_browser(page, served, "Surname663")  # a folded author
    # Neither the skip link and the footer's feed links (outside the indexed article) nor,
    # inside it, the weekly link, the table of contents, the votes and a video's links
    # (search.NOT_SEARCHED) are indexed; none of these words is in a digest.
    votes = f"{big_digests[-1].top_papers[0].votes}표"
    for chrome in ("바로가기", "JSON", "주간호", "호의", votes, "영상"):
        assert not search_in_browser(page, served, chrome), chrome
    page.close()


def test_search_indexes_are_rebuilt_only_when_their_pages_change(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    indexed: list[str] = []
    run_pagefind = search._run_pagefind

    def recorded(pages: Path, bundle: Path, group: site.SearchGroup) -> None:
        indexed.append(group.name)
        run_pagefind(pages, bundle, group)

    monkeypatch.setattr(search, "_run_pagefind", recorded)
    build(seeds_copy, output, settings, cache_dir=cache)
    assert sorted(indexed) == ["2024-02", "2024-04", "2024-05"]  # indexed in parallel
    first = snapshot(output / "pagefind")
    build(seeds_copy, output, settings, cache_dir=cache)
    assert indexed[3:] == []
    assert snapshot(output / "pagefind") == first
    # A build without search in between keeps the indexes for the next build with search.
    build(seeds_copy, output, settings, cache_dir=cache, with_search=False)
    assert not (output / "pagefind").exists()
    build(seeds_copy, output, settings, cache_dir=cache)
    assert indexed[3:] == []
    assert snapshot(output / "pagefind") == first
    # One bullet of 2024-04-11 (mid-April): its page and its neighbours' change, all in April.
    digest = next(p for p in seeds_copy.iterdir() if "(2024-04-11)" in p.read_text())
    digest.write_text(digest.read_text().replace("\n- ", "\n- (edited) ", 1))
    build(seeds_copy, output, settings, cache_dir=cache)
    assert indexed[3:] == ["2024-04"]
    again = snapshot(output / "pagefind")
    assert {k: v for k, v in again.items() if not k.startswith("2024-04/")} == {
        k: v for k, v in first.items() if not k.startswith("2024-04/")
    }
    assert again != first


def test_build_indexes_by_default_and_no_search_skips_it(seeds_copy: Path) -> None:
    folder = seeds_copy.parent
    searched = newsletter("build", "--output", "with", cwd=folder)
    skipped = newsletter("build", "--no-search", "--output", "without", cwd=folder)
    assert searched.returncode == skipped.returncode == 0, searched.stderr + skipped.stderr
    assert (folder / "with/pagefind/2024-05/pagefind.js").is_file()
    assert not (folder / "without/pagefind").exists()
    # The search page is there either way (without indexes it says it could not load them).
    assert (folder / "without/search/index.html").is_file()


def test_pagefind_output_is_the_same_bytes_on_every_cold_build(
    seeds_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    sites = []
    for name in ("a", "b"):
        build(seeds_dir, tmp_path / name / "public", settings, cache_dir=tmp_path / name / "cache")
        sites.append(snapshot(tmp_path / name / "public"))
    assert any(path.startswith("pagefind/2024-05/fragment/") for path in sites[0])
    assert sites[0] == sites[1]


# --- reading pages -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [375, 1280])
def test_long_author_lists_are_folded(
    served: str, browser: Any, big_digests: list[Digest], width: int
) -> None:
    newest = big_digests[-1]
    page = open_page(browser, served, width=width)
    page.goto(served + site.issue_path(newest))
    authors = page.locator(".paper").first.locator(".authors")
    fold = authors.locator("details")
    assert authors.locator("p").inner_text() == ", ".join(
        f"Author{n:03d} Surname{n:03d}" for n in range(5)
    )
    assert fold.locator("summary").inner_text() == f"외 {LONG_AUTHORS - 5}명"
    assert fold.get_attribute("open") is None
    assert not fold.locator("li").first.is_visible()
    box = authors.bounding_box()
    assert box is not None and box["height"] < 120
    fold.locator("summary").click()
    assert fold.locator("li").last.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.close()


def test_no_visible_text_block_is_longer_than_2000_characters(
    served: str, browser: Any, big_digests: list[Digest]
) -> None:
    page = open_page(browser, served, width=375)
    for path in ("", "years/2010/", site.issue_path(big_digests[-1]), "search/?q=Transformer"):
        page.goto(served + path)
        if path.startswith("search/"):
            page.wait_for_selector("#search-results > li")
        for opened in (False, True):
            if opened:
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            longest = page.evaluate(LONGEST_TEXT_BLOCK)
            assert len(longest) <= TEXT_BLOCK_LIMIT, (path, opened, longest[:200])
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_serious_or_critical_violation(
    served: str, browser: Any, big_digests: list[Digest], scheme: str
) -> None:
    axe = axe_core_path()
    page = open_page(browser, served, scheme=scheme)
    problems = []
    for path in ("", "years/2010/", site.issue_path(big_digests[-1]), "search/?q=Transformer"):
        page.goto(served + path)
        if path.startswith("search/"):
            page.wait_for_selector("#search-results > li")
        page.add_script_tag(path=str(axe))
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        problems += [
            f"{path or 'index'} ({scheme}): {v['id']} [{v['impact']}] {v['help']}: "
            f"{v['nodes'][0]['target']}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
    page.close()
    assert not problems, "\n".join(problems)


# --- the per-paper feed --------------------------------------------------------------------


def test_papers_feed_has_one_entry_per_paper_of_the_newest_issues(
    public: Path, big_digests: list[Digest], big_settings: Settings
) -> None:
    feed = feedparser.parse((public / feeds.PAPERS_PATH).read_bytes())
    assert not feed.bozo, feed.bozo_exception
    newest = big_digests[-feeds.PAPER_FEED_ISSUES :]
    papers = [(d, p) for d in reversed(newest) for p in d.papers]
    assert len(feed.entries) == len(papers)
    assert len({entry.id for entry in feed.entries}) == len(papers)
    assert feed.feed.id != feedparser.parse((public / "feed.xml").read_bytes()).feed.id
    for entry, (digest, paper) in zip(feed.entries, papers, strict=True):
        assert entry.id == (
            f"tag:{big_settings.feed_id_authority}:paper/{digest.slug}/{paper.link}"
        )
        assert entry.link == paper.link
        assert entry.title == paper.title
        issue_link = f"{big_settings.issue_url(digest.slug)}#{paper.anchor}"
        assert issue_link in entry.content[0].value
        if paper.thumbnail_url:
            assert entry.media_thumbnail[0]["url"] == paper.thumbnail_url
    longest = feed.entries[0].content[0].value
    assert f"외 {LONG_AUTHORS - 5}명" in longest
    assert "Surname663" not in longest
