"""The feeds a subscriber reads: Atom with its RFC 5005 archive, RSS 2.0 and JSON Feed.

Feeds are built through `build()` from copies of the seeds outside git (so `updated` is each
issue's publication time), then read back with feedparser and lxml.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from golden import assert_matches_golden
from lxml import etree
from lxml import html as lxml_html
from markupsafe import escape

from newsletter import feeds
from newsletter.build import build
from newsletter.config import Settings, load_settings
from newsletter.errors import ConfigError
from newsletter.markup import inline_html
from newsletter.model import Digest

ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
SEOUL = dt.timezone(dt.timedelta(hours=9))

MALICIOUS_DIGEST = """\
## Daily Papers (2024-06-01)

### [<script>alert("title")</script> & \\]\\]> Paper](https://arxiv.org/abs/2406.00001)

![](https://example.org/thumb.png)

Vote: 3

Authors: Mallory <img src=x onerror=alert(1)>, Eve

- Intro <script>alert("bullet")</script> raw tag
- An <img src=x onerror=alert(2)> image
- A [click](javascript:alert(3)) link
- A stray ]]> end of CDATA and <![CDATA[ start
"""


def build_feeds(seeds: Path, out: Path, settings: Settings) -> Path:
    build(seeds, out, settings)
    return out


def copy_seeds(seeds_dir: Path, target: Path, count: int | None = None) -> Path:
    target.mkdir(parents=True)
    for path in sorted(seeds_dir.glob("*.txt"))[:count]:
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings) -> Path:
    """The site built from the seeds with the test settings (one page of entries)."""
    root = tmp_path_factory.mktemp("feeds")
    return build_feeds(copy_seeds(seeds_dir, root / "seeds"), root / "public", settings)


@pytest.fixture(scope="module")
def archived_public(
    tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings
) -> Path:
    """The seeds built with two entries per page: one full archive page, three in feed.xml."""
    root = tmp_path_factory.mktemp("archived")
    small = dataclasses.replace(settings, feed_entries=2)
    return build_feeds(copy_seeds(seeds_dir, root / "seeds"), root / "public", small)


def parse_feed(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def atom_entries(path: Path) -> list[etree._Element]:
    return etree.parse(str(path)).getroot().findall(f"{ATOM}entry")


def entry_content(entry: etree._Element) -> str:
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    return content.text or ""


def links_by_rel(document: etree._Element) -> dict[str, str]:
    return {
        link.get("rel", "alternate"): link.get("href") for link in document.findall(f"{ATOM}link")
    }


def html_elements(fragment: str) -> list[lxml_html.HtmlElement]:
    return list(lxml_html.fromstring(f"<div>{fragment}</div>").iter())


# --- entries -------------------------------------------------------------------------------


def test_atom_feed_lists_every_issue_newest_first_with_id_title_link_and_dates(
    public: Path, digests: list[Digest], settings: Settings
) -> None:
    parsed = parse_feed(public / "feed.xml")
    newest_first = list(reversed(digests))
    assert [entry.id for entry in parsed.entries] == [
        f"tag:{settings.feed_id_authority}:issue/{digest.slug}" for digest in newest_first
    ]
    assert [entry.link for entry in parsed.entries] == [
        f"https://papers.example.org/newsletter/issues/{digest.slug}/" for digest in newest_first
    ]
    for entry, digest in zip(parsed.entries, newest_first, strict=True):
        noon_utc = dt.datetime.combine(digest.date, dt.time(12), dt.UTC)
        assert entry.links[0].rel == "alternate"
        assert entry.published == noon_utc.astimezone(SEOUL).isoformat()  # shown in Seoul time
        assert dt.datetime.fromisoformat(entry.updated) == noon_utc  # outside git
        assert entry.title.startswith(f"{digest.slug} · {digest.top_papers[0].title}")


def test_entry_links_to_its_issue_page_as_alternate_html(public: Path) -> None:
    for entry in atom_entries(public / "feed.xml"):
        [link] = entry.findall(f"{ATOM}link")
        assert (link.get("rel"), link.get("type")) == ("alternate", "text/html")
        assert link.get("href").startswith("https://papers.example.org/newsletter/issues/")


def test_entry_title_names_the_top_paper_by_votes_and_how_many_others(public: Path) -> None:
    titles = [entry.findtext(f"{ATOM}title") for entry in atom_entries(public / "feed.xml")]
    assert titles[0] == "2024-05-22 · Your Transformer is Secretly Linear 외 5편"
    assert titles[-1] == (
        "2024-02-22 · LongRoPE: Extending LLM Context Window Beyond 2 Million Tokens 외 11편"
    )


def test_entry_content_holds_every_paper_title_and_bullet_of_its_digest(
    public: Path, digests: list[Digest]
) -> None:
    entries = atom_entries(public / "feed.xml")
    for entry, digest in zip(entries, reversed(digests), strict=True):
        content = entry_content(entry)
        for paper in digest.papers:
            assert f'<a href="{paper.link}">{escape(paper.title)}</a>' in content
            assert f"추천 {paper.votes}" in content
            assert escape(paper.authors[0]) in content
            for bullet in paper.bullets:
                assert f"<li>{inline_html(bullet)}</li>" in content


def test_thumbnails_carry_the_paper_title_as_alt_text(public: Path, digests: list[Digest]) -> None:
    content = entry_content(atom_entries(public / "feed.xml")[0])
    images = [element for element in html_elements(content) if element.tag == "img"]
    assert [(image.get("src"), image.get("alt")) for image in images] == [
        (paper.thumbnail_url, paper.title) for paper in digests[-1].papers
    ]


def test_video_entry_becomes_a_link_in_feed_content(public: Path, digests: list[Digest]) -> None:
    video_paper = next(paper for paper in digests[0].papers if paper.video_url)
    content = entry_content(atom_entries(public / "feed.xml")[-1])
    links = [element.get("href") for element in html_elements(content) if element.tag == "a"]
    assert video_paper.video_url in links
    assert "<video" not in content and "<iframe" not in content


def test_entry_content_is_clean_markup_with_absolute_urls_only(public: Path) -> None:
    for entry in atom_entries(public / "feed.xml"):
        for element in html_elements(entry_content(entry)):
            assert element.tag not in ("script", "style", "video", "iframe")
            assert "style" not in element.attrib
            for name in ("href", "src"):
                if name in element.attrib:
                    assert element.get(name).startswith(("https://", "http://")), element.get(name)


@pytest.mark.parametrize("feed", ["feed.xml", "rss.xml"])
def test_entry_content_comes_in_a_cdata_section_that_readers_read_as_the_escaped_html(
    public: Path, feed: str
) -> None:
    raw = (public / feed).read_bytes()
    escaped = etree.tostring(etree.fromstring(raw))  # lxml's parser turns CDATA into text
    assert raw.count(b"<![CDATA[<h2>") == len(parse_feed(public / feed).entries)
    assert b"<![CDATA[" not in escaped and len(escaped) > len(raw)
    contents = [entry.content for entry in feedparser.parse(raw).entries]
    assert contents == [entry.content for entry in feedparser.parse(escaped).entries]


def test_content_that_holds_a_cdata_end_stays_escaped_in_atom_and_rss(
    digests: list[Digest], settings: Settings
) -> None:
    # A CDATA section ends at the first "]]>" (XML 1.0 §2.7); a user's template may write one.
    html = "<p>a ]]> b &amp; c</p>"
    entry = dataclasses.replace(feeds.issue_entry(digests[0], settings, None), content_html=html)
    atom = feeds.subscription_atom([entry], None, settings)
    rss = feeds.rss_feed([entry], settings)
    assert b"CDATA" not in atom and b"CDATA" not in rss
    assert entry_content(etree.fromstring(atom).find(f"{ATOM}entry")) == html
    namespace = "{http://purl.org/rss/1.0/modules/content/}"
    assert etree.fromstring(rss).findtext(f"channel/item/{namespace}encoded") == html


def test_entry_summary_is_plain_text_naming_the_top_papers(public: Path) -> None:
    summary = parse_feed(public / "feed.xml").entries[0].summary
    assert summary == (
        "Your Transformer is Secretly Linear (추천 55) · "
        "Diffusion for World Modeling: Visual Details Matter in Atari (추천 13) · "
        "Face Adapter for Pre-Trained Diffusion Models with Fine-Grained ID and Attribute "
        "Control (추천 9) 외 3편"
    )


def test_entries_carry_categories_and_the_top_thumbnail(public: Path) -> None:
    parsed = parse_feed(public / "feed.xml")
    newest = parsed.entries[0]
    assert [tag.term for tag in newest.tags] == ["daily-papers", "2024-05"]
    assert newest.media_thumbnail == [
        {"url": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2405.12250.png"}
    ]


# --- dates across time zones -----------------------------------------------------------------

READER_ZONES = [
    "Pacific/Pago_Pago",  # UTC−11
    "America/Los_Angeles",
    "UTC",
    "Europe/Berlin",
    "Asia/Seoul",
    "Asia/Magadan",  # UTC+11
]


def entry_dates_in(parsed: feedparser.FeedParserDict, zone: str) -> list[dt.date]:
    """The day a reader in `zone` sees each entry published on (feedparser gives UTC)."""
    return [
        dt.datetime(*entry.published_parsed[:6], tzinfo=dt.UTC).astimezone(ZoneInfo(zone)).date()
        for entry in parsed.entries
    ]


@pytest.mark.parametrize("feed", ["feed.xml", "rss.xml", "feed.json"])
def test_every_reader_from_utc_minus_11_to_plus_11_sees_the_digests_own_date(
    public: Path, digests: list[Digest], feed: str
) -> None:
    parsed = parse_feed(public / feed) if feed != "feed.json" else None
    days = [digest.date for digest in reversed(digests)]
    for zone in READER_ZONES:
        if parsed is not None:
            assert entry_dates_in(parsed, zone) == days, zone
        else:
            items = json.loads((public / feed).read_bytes())["items"]
            published = [dt.datetime.fromisoformat(item["date_published"]) for item in items]
            assert [moment.astimezone(ZoneInfo(zone)).date() for moment in published] == days


def test_a_publication_time_dates_every_issue_at_that_hour_in_the_zone(
    digests: list[Digest], settings: Settings
) -> None:
    morning = dataclasses.replace(settings, publish_time="07:00")
    files = feeds.feed_files(digests, morning, {})
    parsed = feedparser.parse(files["feed.xml"])
    assert parsed.entries[0].published == "2024-05-22T07:00:00+09:00"
    assert entry_dates_in(parsed, "Asia/Seoul") == [d.date for d in reversed(digests)]


@pytest.mark.parametrize("value", ["7:00", "24:00", "07:60", "7am", "07:00:00", " 07:00"])
def test_a_publication_time_that_is_not_hh_mm_is_a_clear_error(tmp_path: Path, value: str) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(f'publish_time = "{value}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="setting 'publish_time' must be a 24-hour time HH:MM"):
        load_settings(config)


# --- feed level ------------------------------------------------------------------------------


def test_feed_names_its_language_links_author_generator_and_newest_update(public: Path) -> None:
    root = etree.parse(str(public / "feed.xml")).getroot()
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ko"
    assert links_by_rel(root) == {
        "self": "https://papers.example.org/newsletter/feed.xml",
        "alternate": "https://papers.example.org/newsletter/",
    }
    assert root.findtext(f"{ATOM}updated") == "2024-05-22T21:00:00+09:00"  # 12:00 UTC
    assert root.findtext(f"{ATOM}author/{ATOM}email") == "editor@example.org"
    assert root.findtext(f"{ATOM}generator") == "daily-papers-newsletter"
    assert root.findtext(f"{ATOM}icon") == "https://papers.example.org/newsletter/icon.png"


def test_configured_icon_and_logo_appear_in_the_feed(
    tmp_path: Path, seeds_dir: Path, settings: Settings
) -> None:
    branded = dataclasses.replace(
        settings,
        icon="https://papers.example.org/icon.png",
        logo="https://papers.example.org/logo.png",
    )
    public = build_feeds(copy_seeds(seeds_dir, tmp_path / "seeds", 1), tmp_path / "out", branded)
    root = etree.parse(str(public / "feed.xml")).getroot()
    assert root.findtext(f"{ATOM}icon") == "https://papers.example.org/icon.png"
    assert root.findtext(f"{ATOM}logo") == "https://papers.example.org/logo.png"
    document = json.loads((public / "feed.json").read_text())
    assert (document["favicon"], document["icon"]) == (branded.icon, branded.logo)
    rss = parse_feed(public / "rss.xml")
    assert rss.feed.image.href == branded.logo


def test_the_sites_mark_is_every_feeds_default_icon_and_logo(
    public: Path, settings: Settings
) -> None:
    mark = "https://papers.example.org/newsletter/icon.png"
    assert (public / "icon.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    atom = parse_feed(public / "feed.xml").feed
    assert (atom.icon, atom.logo) == (mark, mark)
    rss = etree.parse(str(public / "rss.xml")).getroot().find("channel/image")
    assert rss is not None
    assert [rss.findtext(tag) for tag in ("url", "title", "link", "width", "height")] == [
        mark,
        settings.title,
        "https://papers.example.org/newsletter/",
        "144",
        "144",
    ]
    document = json.loads((public / "feed.json").read_text())
    assert (document["icon"], document["favicon"]) == (mark, mark)


def test_every_item_names_its_author_for_rss2email_and_newsboat(
    public: Path, settings: Settings
) -> None:
    # rss2email (feedparser under it) and newsboat take an item's own author, not the
    # feed's: dc:creator in RSS, <author> in each Atom entry.
    for feed in ("rss.xml", "feed.xml"):
        entries = parse_feed(public / feed).entries
        assert entries and {entry.author for entry in entries} == {settings.author_name}, feed
    assert "dc:creator" not in (public / "feed.xml").read_text()  # Atom has <author>


def test_entry_ids_do_not_depend_on_where_the_site_lives(
    tmp_path: Path, seeds_dir: Path, settings: Settings, public: Path
) -> None:
    moved = dataclasses.replace(settings, base_url="https://elsewhere.example.net/papers/")
    other = build_feeds(copy_seeds(seeds_dir, tmp_path / "seeds"), tmp_path / "out", moved)
    ids = [entry.id for entry in parse_feed(public / "feed.xml").entries]
    assert [entry.id for entry in parse_feed(other / "feed.xml").entries] == ids


def test_a_tag_authority_that_is_not_a_name_and_date_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text('feed_id_authority = "https://papers.example.org/"\n')
    with pytest.raises(ConfigError, match="setting 'feed_id_authority' must be"):
        load_settings(config)


# --- RSS and JSON Feed --------------------------------------------------------------------


def test_rss_feed_lists_the_same_issues_with_guid_title_link_and_date(public: Path) -> None:
    rss = parse_feed(public / "rss.xml")
    atom = parse_feed(public / "feed.xml")
    assert rss.version == "rss20"
    assert [(item.id, item.title, item.link) for item in rss.entries] == [
        (entry.id, entry.title, entry.link) for entry in atom.entries
    ]
    assert rss.entries[0].published_parsed == atom.entries[0].published_parsed
    assert {(link.rel, link.href) for link in rss.feed.links} >= {
        ("self", "https://papers.example.org/newsletter/rss.xml")
    }
    assert rss.feed.link == "https://papers.example.org/newsletter/"
    rss_text = (public / "rss.xml").read_text()
    assert "<lastBuildDate>Wed, 22 May 2024 21:00:00 +0900</lastBuildDate>" in rss_text


def test_json_feed_has_every_required_field(public: Path, digests: list[Digest]) -> None:
    document = json.loads((public / "feed.json").read_bytes())
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == "Daily Papers 뉴스레터"
    assert document["feed_url"] == "https://papers.example.org/newsletter/feed.json"
    assert [item["id"] for item in document["items"]] == [
        entry.id for entry in parse_feed(public / "feed.xml").entries
    ]
    for item, digest in zip(document["items"], reversed(digests), strict=True):
        assert item["url"] == f"https://papers.example.org/newsletter/issues/{digest.slug}/"
        assert item["title"].startswith(digest.slug)
        assert all(
            inline_html(bullet) in item["content_html"] for bullet in digest.papers[0].bullets
        )
        assert dt.datetime.fromisoformat(item["date_published"]).tzinfo is not None


def test_rss_and_json_feed_hold_what_the_archive_does_not(archived_public: Path) -> None:
    assert len(parse_feed(archived_public / "rss.xml").entries) == 3
    items = json.loads((archived_public / "feed.json").read_bytes())["items"]
    slugs = [item["id"].rsplit("/", 1)[1] for item in items]
    assert slugs == ["2024-05-22", "2024-04-16", "2024-04-11"]


# --- RFC 5005 archive ------------------------------------------------------------------------


def test_archive_pages_make_the_whole_history_reachable_from_the_feed(
    archived_public: Path, digests: list[Digest]
) -> None:
    site = "https://papers.example.org/newsletter/"
    url_to_file = {
        site + path.relative_to(archived_public).as_posix(): path
        for path in archived_public.rglob("*.xml")
    }
    path = archived_public / "feed.xml"
    seen: list[str] = []
    while True:
        root = etree.parse(str(path)).getroot()
        seen.extend(entry.findtext(f"{ATOM}id").rsplit("/", 1)[1] for entry in atom_entries(path))
        if path.name != "feed.xml":
            assert root.find(f"{HISTORY}archive") is not None
            assert links_by_rel(root)["current"].endswith("/newsletter/feed.xml")
        if "prev-archive" not in links_by_rel(root):
            break
        path = url_to_file[links_by_rel(root)["prev-archive"]]
    assert seen == [digest.slug for digest in reversed(digests)]


def test_archive_pages_link_their_neighbours(digests: list[Digest], settings: Settings) -> None:
    files = feeds.feed_files(digests, dataclasses.replace(settings, feed_entries=1), {})
    pages = sorted(path for path in files if path.startswith("feeds/archive/"))
    assert pages == [f"feeds/archive/000{number}.xml" for number in (1, 2, 3, 4)]
    links = [links_by_rel(etree.fromstring(files[page])) for page in pages]
    assert "prev-archive" not in links[0]
    assert [page["prev-archive"].rsplit("/", 1)[1] for page in links[1:]] == pages_named(1, 2, 3)
    assert [page["next-archive"].rsplit("/", 1)[1] for page in links[:-1]] == pages_named(2, 3, 4)
    assert "next-archive" not in links[-1]  # the newest: no archive page follows it yet


def pages_named(*numbers: int) -> list[str]:
    return [f"{number:04d}.xml" for number in numbers]


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_archive_pages_only_ever_hold_a_full_page_that_never_changes(
    digests: list[Digest], settings: Settings, page_size: int
) -> None:
    # RFC 5005 §4: an archive document's entries never change once published; the
    # subscription document holds the rest, between one and two pages less one.
    sized = dataclasses.replace(settings, feed_entries=page_size)
    published: dict[str, bytes] = {}
    for count in range(1, len(digests) + 1):
        files = feeds.feed_files(digests[:count], sized, {})
        current = len(atom_entries_of(files["feed.xml"]))
        assert current == count if count < page_size else page_size <= current < 2 * page_size
        for path, document in files.items():
            if not path.startswith("feeds/archive/"):
                continue
            assert len(atom_entries_of(document)) == page_size
            assert b"<fh:archive/>" in document
            if path in published:
                assert without_next_archive(document) == without_next_archive(published[path])
            published[path] = document
        assert set(published) <= set(files)


def without_next_archive(document: bytes) -> bytes:
    return re.sub(rb'\s*<link href="[^"]*" rel="next-archive"[^>]*/>', b"", document)


def atom_entries_of(document: bytes) -> list[etree._Element]:
    return etree.fromstring(document).findall(f"{ATOM}entry")


def test_every_archive_page_parses_without_error(archived_public: Path) -> None:
    for path in sorted((archived_public / "feeds" / "archive").iterdir()):
        assert parse_feed(path).entries


# --- determinism and identity ----------------------------------------------------------------


def test_two_builds_are_byte_identical(
    tmp_path: Path, seeds_dir: Path, settings: Settings, archived_public: Path
) -> None:
    small = dataclasses.replace(settings, feed_entries=2)
    again = build_feeds(copy_seeds(seeds_dir, tmp_path / "seeds"), tmp_path / "out", small)
    for path in archived_public.rglob("*"):
        if path.is_file():
            assert (again / path.relative_to(archived_public)).read_bytes() == path.read_bytes()


def test_renaming_a_seed_changes_no_feed_byte(
    seeds_copy: Path, tmp_path: Path, settings: Settings, public: Path
) -> None:
    for path in seeds_copy.glob("*.txt"):
        path.rename(path.with_name("renamed-" + path.name))
    renamed = build_feeds(seeds_copy, tmp_path / "out", settings)
    for name in ("feed.xml", "rss.xml", "feed.json"):
        assert (renamed / name).read_bytes() == (public / name).read_bytes()


def git(repo: Path, *args: str, date: str = "2024-06-01T12:00:00+00:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.org",
         "-c", "commit.gpgsign=false", *args],
        check=True, capture_output=True, env=env,
    )  # fmt: skip


def test_editing_a_digest_changes_only_that_entrys_updated(
    tmp_path: Path, seeds_dir: Path, settings: Settings
) -> None:
    repo = tmp_path / "repo"
    seeds = copy_seeds(seeds_dir, repo / "seeds")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "seeds")
    before = {
        e.findtext(f"{ATOM}id"): e
        for e in atom_entries(build_feeds(seeds, tmp_path / "a", settings) / "feed.xml")
    }

    edited = next(
        path for path in seeds.iterdir() if "Daily Papers (2024-04-11)" in path.read_text()
    )
    edited.write_text(edited.read_text() + "- 고친 요약 한 줄.\n")
    git(repo, "commit", "-q", "-am", "edit", date="2024-06-02T12:00:00+00:00")
    after = {
        e.findtext(f"{ATOM}id"): e
        for e in atom_entries(build_feeds(seeds, tmp_path / "b", settings) / "feed.xml")
    }

    changed_id = f"tag:{settings.feed_id_authority}:issue/2024-04-11"
    # Committed together but never edited: each keeps its own publication time, so no two
    # entries share an `updated` (the W3C validator warns about that).
    assert before[changed_id].findtext(f"{ATOM}updated") == "2024-04-11T21:00:00+09:00"
    assert len({e.findtext(f"{ATOM}updated") for e in before.values()}) == len(before)
    assert after[changed_id].findtext(f"{ATOM}updated") == "2024-06-02T21:00:00+09:00"
    assert list(after) == list(before)
    for entry_id in before.keys() - {changed_id}:
        assert etree.tostring(after[entry_id]) == etree.tostring(before[entry_id])


# --- untrusted digest text -------------------------------------------------------------------


@pytest.fixture(scope="module")
def malicious_public(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    root = tmp_path_factory.mktemp("malicious")
    (root / "seeds").mkdir()
    (root / "seeds" / "evil.txt").write_text(MALICIOUS_DIGEST)
    return build_feeds(root / "seeds", root / "public", settings)


def test_markup_in_titles_and_bullets_stays_inert_text(malicious_public: Path) -> None:
    for name in ("feed.xml", "rss.xml"):
        parse_feed(malicious_public / name)
    entry = atom_entries(malicious_public / "feed.xml")[0]
    title = '<script>alert("title")</script> & ]]> Paper'
    assert entry.findtext(f"{ATOM}title") == f"2024-06-01 · {title}"
    content = entry_content(entry)
    elements = html_elements(content)
    assert {element.tag for element in elements} <= {"div", "h2", "a", "p", "img", "ul", "li"}
    for element in elements:
        assert not any(name.startswith("on") for name in element.attrib)
        assert not (element.get("href") or "").startswith("javascript:")
    text = lxml_html.fromstring(f"<div>{content}</div>").text_content()
    assert title in text
    assert 'Intro <script>alert("bullet")</script> raw tag' in text
    assert "A stray ]]> end of CDATA and <![CDATA[ start" in text
    # RSS readers render <description> as HTML: the summary's markup must arrive escaped.
    description = etree.parse(str(malicious_public / "rss.xml")).findtext(
        "channel/item/description"
    )
    assert "&lt;script&gt;" in description and "<script>" not in description
    item = json.loads((malicious_public / "feed.json").read_bytes())["items"][0]
    assert item["title"] == f"2024-06-01 · {title}"
    assert "<script>" not in item["content_html"]


# --- golden file ---------------------------------------------------------------------------


def test_feed_matches_the_golden_file(public: Path) -> None:
    assert_matches_golden("feeds/feed.xml", (public / "feed.xml").read_text(encoding="utf-8"))


def test_no_digests_means_no_feed_files(settings: Settings) -> None:
    assert feeds.feed_files([], settings, {}) == {}
