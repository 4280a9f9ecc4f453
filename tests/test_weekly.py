"""The weekly edition: which weeks have one, what it ranks, and that it never changes once
finished; built for real from two months of synthetic digests (benchmarks/run.py's)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
import test_send
from browser import chromium
from golden import assert_matches_golden
from lxml import etree
from site_pages import broken_links, read_page, snapshot
from test_benchmark_data import load_benchmark
from typer.testing import CliRunner

from newsletter import send, weekly
from newsletter.build import build, default_outbox
from newsletter.cli import app
from newsletter.config import MAX_WEEKLY_PAPERS, Settings, load_settings
from newsletter.errors import ConfigError, SendError
from newsletter.model import Digest, Paper
from newsletter.parse import parse_files
from newsletter.weekly import Week

ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
GMAIL_CLIP_BYTES = 102 * 1024
DIGESTS = 60  # 2010-01-01 (Friday of 2009-W53) to 2010-03-01 (Monday of 2010-W09, open)
FINISHED = ["2009-W53", *(f"2010-W{number:02d}" for number in range(1, 9))]
FEED_ENTRIES = 4  # the oldest 4 weeks fill one archive page; weekly.xml holds the other 5


# --- weeks and ranking, on hand-made digests ------------------------------------------------


def paper(title: str, votes: int, line: int) -> Paper:
    return Paper(
        title=title,
        link=f"https://example.org/{title}",
        arxiv_id=None,
        thumbnail_url=None,
        video_url=None,
        votes=votes,
        authors=("Someone",),
        authors_truncated=False,
        bullets=(f"{title} first.", f"{title} second.", f"{title} third."),
        line=line,
    )


def digest(date: str, *papers: Paper) -> Digest:
    return Digest(dt.date.fromisoformat(date), papers, f"seeds/{date}.txt")


def test_papers_rank_by_votes_then_earlier_day_then_digest_order() -> None:
    monday = digest("2024-05-20", paper("A", 5, 3), paper("B", 9, 10), paper("C", 5, 20))
    tuesday = digest("2024-05-21", paper("D", 9, 3), paper("E", 5, 10), paper("F", 12, 20))
    picks = weekly.ranked([tuesday, monday])  # the order given does not matter
    assert [pick.paper.title for pick in picks] == ["F", "B", "D", "A", "C", "E"]
    assert [pick.digest.date.day for pick in picks] == [21, 20, 21, 20, 20, 21]


def test_a_paper_listed_on_two_days_ranks_once_where_it_ranks_highest() -> None:
    monday = digest("2024-05-20", paper("A", 5, 3), paper("B", 3, 10))
    friday = digest("2024-05-24", paper("B", 8, 3), paper("A", 5, 10))
    picks = weekly.ranked([monday, friday])
    assert [(pick.paper.title, pick.digest.date.day) for pick in picks] == [("B", 24), ("A", 20)]


def test_an_edition_shows_the_top_weekly_papers_with_their_first_two_bullets(
    settings: Settings,
) -> None:
    days = [digest(f"2024-05-2{day}", paper(f"P{day}", day, 3)) for day in range(7)]
    weeks = weekly.finished_weeks([*days, digest("2024-05-27", paper("next", 1, 3))])
    chosen = weekly.edition(weeks[-1], dataclasses.replace(settings, weekly_papers=3))
    assert chosen.week == Week(2024, 21)
    assert [pick.paper.title for pick in chosen.picks] == ["P6", "P5", "P4"]
    assert chosen.picks[0].bullets == ("P6 first.", "P6 second.")
    assert (chosen.paper_count, chosen.total_votes) == (7, 0 + 1 + 2 + 3 + 4 + 5 + 6)


def test_the_newest_digests_week_is_open_and_has_no_edition() -> None:
    friday, monday = digest("2024-05-17", paper("A", 1, 3)), digest("2024-05-20", paper("B", 1, 3))
    assert weekly.finished_weeks([friday]) == []
    assert weekly.finished_weeks([monday, friday]) == [
        weekly.WeekDigests(Week(2024, 20), (friday,), None)
    ]


def test_a_week_without_digests_has_no_edition_and_is_skipped_by_previous() -> None:
    days = [digest(date, paper(date, 1, 3)) for date in ("2024-05-01", "2024-05-15", "2024-06-03")]
    weeks = weekly.finished_weeks(days)
    assert [(w.week.slug, w.previous) for w in weeks] == [
        ("2024-W18", None),
        ("2024-W20", Week(2024, 18)),
    ]


def test_weeks_are_iso_weeks_whose_year_may_differ_from_the_calendar_year() -> None:
    assert Week.of(dt.date(2010, 1, 1)).slug == "2009-W53"
    assert Week.of(dt.date(2024, 12, 30)).slug == "2025-W01"
    assert Week(2024, 21).label == "5월 20일–26일"
    assert Week(2024, 18).label == "4월 29일–5월 5일"
    assert Week.from_name("2020-W53") == Week(2020, 53)
    for name in ("2024-W54", "2024-W00", "2024-21", "2024-W1", " 2024-W21"):
        assert Week.from_name(name) is None, name


@pytest.mark.parametrize("value", [0, -1, 16])
def test_weekly_papers_out_of_range_is_a_setting_named_error(tmp_path: Path, value: int) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(f"weekly_papers = {value}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"setting 'weekly_papers' must be from 1 to 15 \(.*\), found {value}"
    ):
        load_settings(config)


# --- two months of synthetic digests, built ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Archive:
    seeds: Path
    public: Path
    cache: Path
    settings: Settings

    @property
    def outbox(self) -> Path:
        """The email editions, beside the site (build's default)."""
        return default_outbox(self.public)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Archive:
    root = tmp_path_factory.mktemp("weekly")
    load_benchmark().write_synthetic_archive(root / "seeds", DIGESTS)
    small = dataclasses.replace(settings, feed_entries=FEED_ENTRIES)
    build(root / "seeds", root / "public", small, cache_dir=root / "cache")
    return Archive(root / "seeds", root / "public", root / "cache", small)


@pytest.fixture(scope="module")
def digests_of_archive(archive: Archive) -> list[Digest]:
    return parse_files([archive.seeds])


def test_every_finished_week_and_only_those_has_a_page_and_an_email(archive: Archive) -> None:
    built = sorted(path.parent.name for path in archive.public.glob("weekly/*/index.html"))
    assert built == FINISHED
    for name in built:
        email = send.built_issue_path(archive.outbox, name).parent
        assert {"email.html", "email.txt", "issue.eml"} <= {p.name for p in email.iterdir()}
    assert not (archive.public / "weekly" / "2010-W09").exists()  # 2010-03-01 is still open
    with pytest.raises(SendError, match="no built issue for 2010-W09"):
        send.built_issue_path(archive.outbox, "2010-W09")


def test_a_page_ranks_the_weeks_papers_like_an_independent_sort(
    archive: Archive, digests_of_archive: list[Digest]
) -> None:
    week = Week(2010, 3)  # seven digests cycling five seeds: equal votes on two days
    days = [d for d in digests_of_archive if Week.of(d.date) == week]
    candidates = [
        (-p.votes, d.date, index, p.link, p.title, d.slug)
        for d in days
        for index, p in enumerate(d.papers)
    ]
    assert len({votes for votes, *_ in candidates}) < len(candidates), "no tie to break"
    first_of_each: dict[str, tuple[Any, ...]] = {}
    for candidate in sorted(candidates):
        first_of_each.setdefault(candidate[3], candidate)  # a paper on two days counts once
    expected = list(first_of_each.values())[: archive.settings.weekly_papers]
    path = archive.public / "weekly" / week.slug / "index.html"
    document = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    cards = document.xpath('//ol[@class="weekly-papers"]/li')
    assert [card.xpath("string(.//h2)") for card in cards] == [title for *_, title, _ in expected]
    links = [card.xpath('string(.//p[@class="paper-meta"]/a/@href)') for card in cards]
    assert [link.split("/")[3] for link in links] == [slug for *_, slug in expected]
    page = read_page(path)
    total = sum(d.total_votes for d in days)
    paper_count = sum(len(d.papers) for d in days)
    assert f"7개 호 · 논문 {paper_count}편 · 추천 {total}표" in page.text
    assert "2010년 1월 18일–24일" in page.text


def test_pages_link_to_each_paper_in_its_daily_issue_and_back(archive: Archive) -> None:
    pages = [f"weekly/{name}/index.html" for name in FINISHED] + ["index.html"]
    pages += [f"issues/2010-01-{day:02d}/index.html" for day in (1, 18, 24)]
    pages += ["years/2010/index.html"]
    problems = [
        p for page in pages for p in broken_links(archive.public, page, archive.settings.base_url)
    ]
    assert problems == []
    # The index lists the weeks of its recent months; the year pages list them all.
    index_links = [a["href"] for a in read_page(archive.public / "index.html").all("a")]
    assert [link for link in index_links if link.startswith("weekly/")] == [
        f"weekly/{name}/" for name in reversed(FINISHED)
    ]
    year_links = [a["href"] for a in read_page(archive.public / "years/2010/index.html").all("a")]
    assert [link for link in year_links if "weekly/" in link] == [
        f"../../weekly/{name}/" for name in reversed(FINISHED)
    ]
    daily = read_page(archive.public / "issues/2010-01-20/index.html")
    assert "../../weekly/2010-W03/" in [a["href"] for a in daily.all("a")]
    open_day = read_page(archive.public / "issues/2010-03-01/index.html")
    assert not any("weekly/" in a["href"] for a in open_day.all("a"))


def test_a_page_links_the_previous_week_but_never_the_next(archive: Archive) -> None:
    first = read_page(archive.public / "weekly/2009-W53/index.html")
    later = read_page(archive.public / "weekly/2010-W05/index.html")
    assert not [a for a in first.all("a") if a.get("rel") == "prev"]
    assert [a["href"] for a in later.all("a") if a.get("rel") == "prev"] == ["../2010-W04/"]
    assert not [a for a in later.all("a") + later.all("link") if a.get("rel") == "next"]


# --- weekly.xml ---------------------------------------------------------------------------


def test_weekly_feed_holds_the_newest_weeks_newest_first_with_stable_ids(archive: Archive) -> None:
    parsed = feedparser.parse((archive.public / "weekly.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    authority = archive.settings.feed_id_authority
    assert parsed.feed.id == f"tag:{authority}:weekly"
    # One archive page holds the oldest FEED_ENTRIES weeks; weekly.xml all the others.
    newest = list(reversed(FINISHED[FEED_ENTRIES:]))
    assert [entry.id for entry in parsed.entries] == [f"tag:{authority}:weekly/{n}" for n in newest]
    assert [entry.link for entry in parsed.entries] == [
        f"{archive.settings.base_url}weekly/{n}/" for n in newest
    ]
    # Published the Monday after the week, at 12:00 UTC like the issues; no digest was
    # edited since, so updated is the same.
    first = parsed.entries[0]
    assert first.published == first.updated == "2010-03-01T21:00:00+09:00"
    assert parsed.feed.updated == first.updated


def test_weekly_feed_content_is_the_whole_edition_in_clean_markup(archive: Archive) -> None:
    root = etree.parse(str(archive.public / "weekly.xml")).getroot()
    for entry in root.findall(f"{ATOM}entry"):
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html"
        fragment = lxml.html.fromstring(f"<div>{content.text}</div>")
        assert len(fragment.findall(".//h2")) == archive.settings.weekly_papers
        for element in fragment.iter():
            assert element.tag not in ("script", "style", "video") and "style" not in element.attrib
            for name in ("href", "src"):
                if name in element.attrib:
                    assert element.get(name).startswith("https://"), element.get(name)


def test_weekly_archive_pages_reach_every_finished_week(archive: Archive) -> None:
    by_url = {
        archive.settings.base_url + p.relative_to(archive.public).as_posix(): p
        for p in archive.public.rglob("*.xml")
    }
    path, seen = archive.public / "weekly.xml", []
    while True:
        parsed = feedparser.parse(path.read_bytes())
        assert (not parsed.bozo and parsed.entries) or path.name != "weekly.xml"
        seen += [entry.id.rsplit("/", 1)[1] for entry in parsed.entries]
        root = etree.parse(str(path)).getroot()
        links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
        if path.name != "weekly.xml":
            assert root.find(f"{HISTORY}archive") is not None
            assert links["current"] == archive.settings.base_url + "weekly.xml"
        if "prev-archive" not in links:
            break
        path = by_url[links["prev-archive"]]
    assert seen == list(reversed(FINISHED))
    assert path.parent.name == "weekly-archive"


# --- a finished week never changes ----------------------------------------------------------


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The weeks rendered by builds in this process (one worker: no process pool)."""
    rendered: list[str] = []
    render = weekly.render

    def counting(week: weekly.WeekDigests, settings: Settings) -> weekly.Rendered:
        rendered.append(week.week.slug)
        return render(week, settings)

    monkeypatch.setattr(weekly, "render", counting)
    return rendered


def built_copy(archive: Archive, tmp_path: Path, renders: list[str]) -> tuple[Path, Path]:
    """The archive's digests copied and built (the cache keys name each digest's path);
    `renders` then starts empty."""
    seeds, cache = tmp_path / "seeds", tmp_path / "cache"
    shutil.copytree(archive.seeds, seeds)
    build(seeds, tmp_path / "first", archive.settings, cache_dir=cache, workers=1)
    assert snapshot(tmp_path / "first") == snapshot(archive.public)
    renders.clear()
    return seeds, cache


def test_later_digests_change_no_byte_of_a_finished_week(
    archive: Archive, tmp_path: Path, renders: list[str]
) -> None:
    benchmark = load_benchmark()
    seeds, cache = built_copy(archive, tmp_path, renders)
    public = tmp_path / "public"
    for count in range(DIGESTS, DIGESTS + 6):  # 2010-03-02 … 03-07: 2010-W09 stays open
        benchmark.add_next_digest(seeds, count)
    build(seeds, public, archive.settings, cache_dir=cache, workers=1)
    assert renders == []
    benchmark.add_next_digest(seeds, DIGESTS + 6)  # 2010-03-08, Monday of W10
    build(seeds, public, archive.settings, cache_dir=cache, workers=1)
    assert renders == ["2010-W09"]

    before, after = snapshot(archive.public / "weekly"), snapshot(public / "weekly")
    assert {k: v for k, v in after.items() if not k.startswith("2010-W09/")} == before
    old_entries, new_entries = feed_entries(archive.public), feed_entries(public)
    assert [id for id in new_entries if id not in old_entries] == ["weekly/2010-W09"]
    for id, entry in new_entries.items():
        if id in old_entries:
            assert entry == old_entries[id], f"{id} changed"
    full_page = "feeds/weekly-archive/0001.xml"
    assert (public / full_page).read_bytes() == (archive.public / full_page).read_bytes()


def feed_entries(public: Path) -> dict[str, bytes]:
    """Every weekly feed entry (feed and archive pages) by its id's tail, in exclusive C14N:
    an entry moved from weekly.xml to an archive page keeps its bytes but not its namespaces."""
    entries = {}
    for path in [public / "weekly.xml", *(public / "feeds/weekly-archive").glob("*.xml")]:
        for entry in etree.parse(str(path)).getroot().findall(f"{ATOM}entry"):
            entries[entry.findtext(f"{ATOM}id").split(":")[-1]] = etree.tostring(
                entry, method="c14n", exclusive=True, with_tail=False
            )
    return entries


def test_editing_a_digest_renders_again_only_its_own_week(
    archive: Archive, tmp_path: Path, renders: list[str]
) -> None:
    seeds, cache = built_copy(archive, tmp_path, renders)
    edited = load_benchmark().edit_one_digest(seeds, DIGESTS)  # 2010-01-31, Sunday of W04
    assert edited.name == "2010-01-31.txt"
    build(seeds, tmp_path / "public", archive.settings, cache_dir=cache, workers=1)
    assert renders == ["2010-W04"]
    before, after = snapshot(archive.public / "weekly"), snapshot(tmp_path / "public" / "weekly")
    changed = sorted({path.split("/")[0] for path in after if after[path] != before[path]})
    assert changed in ([], ["2010-W04"])  # unchanged if the edited paper is not in its top


# --- the email edition ---------------------------------------------------------------------


def weekly_message(outbox: Path, name: str) -> EmailMessage:
    message = message_from_bytes(
        send.built_issue_path(outbox, name).read_bytes(), policy=default_policy
    )
    assert isinstance(message, EmailMessage)
    return message


def test_email_edition_meets_the_daily_issues_bar(archive: Archive) -> None:
    for name in FINISHED:
        raw = send.built_issue_path(archive.outbox, name).read_bytes()
        assert len(raw) < GMAIL_CLIP_BYTES, name
        message = weekly_message(archive.outbox, name)
        assert message.get_content_type() == "multipart/alternative"
        text_part, html_part = message.iter_parts()
        assert text_part.get_content_type() == "text/plain"
        html = str(html_part.get_content())
        document = lxml.html.fromstring(html)
        for element in document.xpath("//body//*[@class]"):
            assert element.get("style"), lxml.html.tostring(element)[:80]
        head_styles = " ".join(document.xpath("//head/style/text()"))
        assert "prefers-color-scheme: dark" in head_styles and "[data-ogsc]" in head_styles
        assert message["Message-ID"] == f"<weekly-{name}@example.org>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    message = weekly_message(archive.outbox, "2010-W03")
    assert str(message["Subject"]).startswith("[Daily Papers 주간] 2010년 1월 18일–24일 · ")
    assert message["Date"] == "Mon, 25 Jan 2010 21:00:00 +0900"


def test_the_most_weekly_papers_allowed_still_fit_gmails_clip(
    digests_of_archive: list[Digest], settings: Settings
) -> None:
    most = dataclasses.replace(settings, weekly_papers=MAX_WEEKLY_PAPERS)
    for week in weekly.finished_weeks(digests_of_archive):
        message = weekly.email_files(weekly.edition(week, most), most)
        size = len(message[f"{weekly.email_folder(week.week)}issue.eml"])
        assert size < GMAIL_CLIP_BYTES, f"{week.week.slug}: {size} bytes"


mailbox = test_send.mailbox  # the aiosmtpd server the send tests use


def test_send_mails_a_weekly_edition_once_per_recipient(
    archive: Archive, tmp_path: Path, mailbox: test_send.Mailbox
) -> None:
    env = {"NEWSLETTER_SMTP_HOST": "127.0.0.1", "NEWSLETTER_SMTP_PORT": str(mailbox.port)}
    env["NEWSLETTER_SMTP_TLS"] = "none"
    args = ["send", "2010-W03", "--to", "ada@example.org", "--outbox", str(archive.outbox)]
    args += ["--ledger", str(tmp_path / "deliveries.log")]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == 0 and "1 already delivered" in again.output
    assert mailbox.addresses() == ["ada@example.org"]
    message = mailbox.received[0][1]
    assert message["To"] == "ada@example.org"
    assert "주간" in str(message["Subject"])
    text = str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "https://papers.example.org/unsubscribe?address=ada@example.org" in text
    ledger = (tmp_path / "deliveries.log").read_text(encoding="utf-8")
    assert ledger.startswith("2010-W03\taccepted\t") and "ada@" not in ledger


# --- golden files, from the real seeds -------------------------------------------------------


def test_golden_weekly_page_and_email(seeds_dir: Path, settings: Settings, tmp_path: Path) -> None:
    build(seeds_dir, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    page = (tmp_path / "public/weekly/2024-W16/index.html").read_text(encoding="utf-8")
    assert_matches_golden("site/weekly_2024-W16_index.html", page)
    text_part, html_part = weekly_message(tmp_path / "outbox", "2024-W16").iter_parts()
    assert_matches_golden("email/2024-W16.email.txt", str(text_part.get_content()))
    assert_matches_golden("email/2024-W16.email.html", str(html_part.get_content()))


def test_weeks_command_lists_the_finished_weeks(archive: Archive) -> None:
    result = CliRunner().invoke(app, ["weeks", "--seeds", str(archive.seeds)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == FINISHED


# --- in a real browser ---------------------------------------------------------------------


def test_weekly_page_and_email_fit_phone_and_desktop_in_light_and_dark(archive: Archive) -> None:
    folder = archive.public / "weekly" / "2010-W03"
    email_html = (
        send.built_issue_path(archive.outbox, "2010-W03").parent / "email.html"
    ).read_text(encoding="utf-8")
    card_colours = {}
    with chromium() as browser:
        for scheme in ("light", "dark"):
            for width in (375, 1280):
                page = browser.new_page(  # type: ignore[attr-defined]
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                # Only the built files themselves: thumbnails stay offline.
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith("file:")
                        else route.abort()
                    ),
                )
                page.goto((folder / "index.html").as_uri())
                overflow = "document.documentElement.scrollWidth - window.innerWidth"
                assert page.evaluate(overflow) <= 0, f"page at {width}px, {scheme}"
                page.set_content(email_html, wait_until="domcontentloaded")
                assert page.evaluate(overflow) <= 0, f"email at {width}px, {scheme}"
                card_colours[scheme] = page.eval_on_selector(
                    ".card", "card => getComputedStyle(card).backgroundColor"
                )
                page.close()
    assert card_colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(26, 30, 39)"}
