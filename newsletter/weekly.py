"""The weekly edition: a finished ISO week's most voted papers as a page, an email and a feed.

A week is an ISO 8601 week (Monday to Sunday) of digest dates. It is finished once a digest
dated after it exists; the newest digest's week is still open and has no edition. Everything
an edition shows comes from its own digests and from the finished week before it, never from
later ones, so a finished week's page, email and feed entry stay byte-identical as new
digests land (only an edit of one of its own digests changes them). That is also why a page
links to the previous week but not to the next: that link would change the page the day the
next week finished.

Pure: renderers return {relative path: bytes}; build.py writes them and caches them per week.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from newsletter.config import Settings
from newsletter.model import Digest, Paper
from newsletter.templating import environment

if TYPE_CHECKING:  # the renderers import these where they render: a build with nothing new
    from newsletter import feeds  # loads no feedgen, lxml or email code (lean start)

WEEKLY_FOLDER = "weekly"
WEEKLY_FEED_PATH = "weekly.xml"
BULLETS_SHOWN = 2  # the first bullet or two of each paper: enough to tell what it is about
SUBJECT_PREFIX = "[Daily Papers 주간]"
_WEEK_NAME = re.compile(r"(?P<year>\d{4})-W(?P<week>\d{2})")

Files = dict[str, bytes]


@dataclass(frozen=True, order=True)
class Week:
    """An ISO 8601 week: `year` is the ISO year, which differs from the calendar year
    around New Year (2010-01-01 is in 2009-W53)."""

    year: int
    number: int

    @classmethod
    def of(cls, date: dt.date) -> Week:
        iso = date.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def from_name(cls, name: str) -> Week | None:
        """`2024-W21` → that week; None for anything else or a week that does not exist."""
        match = _WEEK_NAME.fullmatch(name)
        if not match:
            return None
        try:
            dt.date.fromisocalendar(int(match["year"]), int(match["week"]), 1)
        except ValueError:
            return None
        return cls(int(match["year"]), int(match["week"]))

    @property
    def slug(self) -> str:
        return f"{self.year:04d}-W{self.number:02d}"

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.number, 7)

    @property
    def label(self) -> str:
        """`5월 20일–26일`, or `4월 29일–5월 5일` across a month's end."""
        first, last = self.monday, self.sunday
        end = f"{last.day}일" if first.month == last.month else f"{last.month}월 {last.day}일"
        return f"{first.month}월 {first.day}일–{end}"

    @property
    def long_label(self) -> str:
        """`2024년 5월 20일–26일`, the year of the week's Monday."""
        return f"{self.monday.year}년 {self.label}"


@dataclass(frozen=True)
class WeekDigests:
    """A finished week's digests, oldest first, and the finished week before it (if any)."""

    week: Week
    digests: tuple[Digest, ...]
    previous: Week | None


def finished_weeks(digests: Sequence[Digest]) -> list[WeekDigests]:
    """Every week with a digest, oldest first, except the newest digest's (still open)."""
    by_date = sorted(digests, key=lambda digest: digest.date)
    groups = [
        (week, tuple(group))
        for week, group in itertools.groupby(by_date, key=lambda digest: Week.of(digest.date))
    ]
    finished, previous = [], None
    for week, group in groups[:-1]:
        finished.append(WeekDigests(week, group, previous))
        previous = week
    return finished


def published_time(week: Week, settings: Settings) -> dt.datetime:
    """When a week's edition is published: the Monday after it, at the time issues are
    dated; fixed, whenever the digest that finished it landed."""
    return settings.published_time(week.sunday + dt.timedelta(days=1))


def updated_time(
    week: WeekDigests, settings: Settings, updated: Mapping[dt.date, dt.datetime]
) -> dt.datetime:
    """RFC 4287 §4.2.15: the edition changes only when one of its own digests does."""
    times = [updated.get(d.date, settings.published_time(d.date)) for d in week.digests]
    return max([published_time(week.week, settings), *times]).astimezone(settings.zone)


# --- what an edition shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One of the week's top papers and the daily issue it appeared in."""

    paper: Paper
    digest: Digest

    @property
    def bullets(self) -> tuple[str, ...]:
        return self.paper.bullets[:BULLETS_SHOWN]


def ranked(digests: Sequence[Digest]) -> list[Pick]:
    """The week's papers by votes, most first; ties keep the earlier digest first, then the
    digest's own order (sorted() is stable over papers listed in that order). A paper listed
    on two days (the same link) counts once, where it ranks highest."""
    in_order = [
        Pick(paper, digest)
        for digest in sorted(digests, key=lambda d: d.date)
        for paper in digest.papers
    ]
    picks, seen = [], set()
    for pick in sorted(in_order, key=lambda pick: -pick.paper.votes):
        if pick.paper.link not in seen:
            seen.add(pick.paper.link)
            picks.append(pick)
    return picks


@dataclass(frozen=True)
class Edition:
    week: Week
    previous: Week | None
    digests: tuple[Digest, ...]
    picks: tuple[Pick, ...]  # the top `weekly_papers`, most voted first

    @property
    def paper_count(self) -> int:
        return sum(len(digest.papers) for digest in self.digests)

    @property
    def total_votes(self) -> int:
        return sum(digest.total_votes for digest in self.digests)

    @property
    def headline(self) -> str:
        """`2024-W21 · <top paper> 외 9편`, plain text: the feed entry's title."""
        others = len(self.picks) - 1
        headline = f"{self.week.slug} · {self.picks[0].paper.title}"
        return f"{headline} 외 {others}편" if others else headline

    @property
    def counts(self) -> str:
        return f"{len(self.digests)}개 호 · 논문 {self.paper_count}편 · 추천 {self.total_votes}표"


def edition(week: WeekDigests, settings: Settings) -> Edition:
    """The week's edition; bullets appear only if `week` holds full digests, not outlines."""
    picks = tuple(ranked(week.digests)[: settings.weekly_papers])
    return Edition(week.week, week.previous, week.digests, picks)


def page_path(week: Week) -> str:
    return f"{WEEKLY_FOLDER}/{week.slug}/"


def email_folder(week: Week) -> str:
    """Where the week's email files go in the outbox: `<YYYY-Www>/`, beside the daily
    issues' `<YYYY-MM-DD>/`."""
    return f"{week.slug}/"


def day_url(pick: Pick, settings: Settings) -> str:
    """The paper in its daily issue (absolute, for the email and the feed)."""
    return f"{settings.issue_url(pick.digest.slug)}#{pick.paper.anchor}"


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One edition's outputs: site files, email files (the outbox) and its feed entry HTML."""

    site: Files
    outbox: Files
    feed_content: str


def render(week: WeekDigests, settings: Settings) -> Rendered:
    """Everything of one finished week; `week` must hold full digests (with bullets)."""
    chosen = edition(week, settings)
    return Rendered(
        page_files(chosen, settings), email_files(chosen, settings), feed_content(chosen, settings)
    )


def page_files(chosen: Edition, settings: Settings) -> Files:
    from newsletter import site

    page = site.render_page(
        "site/weekly.html",
        settings,
        root="../../",
        canonical_url=settings.url(page_path(chosen.week)),
        edition=chosen,
        description=f"{chosen.week.long_label} · {chosen.counts}",
    )
    return {f"{page_path(chosen.week)}index.html": page}


def email_files(chosen: Edition, settings: Settings) -> Files:
    from newsletter import mail

    week = chosen.week
    context: dict[str, Any] = {
        "settings": settings,
        "edition": chosen,
        "subject": subject(chosen),
        "preheader": " · ".join(
            [f"이번 주 논문 {chosen.paper_count}편", *(p.paper.title for p in chosen.picks[:3])]
        ),
        "headline": f"주간 {week.long_label}",
        "masthead_meta": chosen.counts,
        "edition_name": week.slug,
        "cards": [(mail.paper_card(pick.paper), pick) for pick in chosen.picks],
        "day_url": lambda pick: day_url(pick, settings),
        "issue_url": settings.url(page_path(week)),
        "archive_url": settings.url(),
        "unsubscribe_url": settings.unsubscribe_url,
        "unsubscribe_mailto": settings.unsubscribe_mailto,
        "thumbnail_width": mail.THUMBNAIL_WIDTH,
        "text_direction": mail.text_direction(settings.language),
    }
    envelope = mail.Envelope(
        subject(chosen),
        published_time(week, settings),
        f"<weekly-{week.slug}@{mail.sender_domain(settings)}>",  # RFC 5322 §3.6.4
    )
    templates = ("email/weekly.html", "email/weekly.txt")
    return mail.edition_email_files(email_folder(week), templates, context, envelope, settings)


def subject(chosen: Edition) -> str:
    return f"{SUBJECT_PREFIX} {chosen.week.long_label} · {chosen.picks[0].paper.title}"


def feed_content(chosen: Edition, settings: Settings) -> str:
    template = environment(settings).get_template("feed/weekly.html")
    return template.render(
        edition=chosen,
        day_url=lambda pick: day_url(pick, settings),
        page_url=settings.url(page_path(chosen.week)),
    )


# --- the weekly feed ----------------------------------------------------------------------

ContentSource = Callable[[WeekDigests], str]


@cache
def feed_channel() -> feeds.Channel:
    from newsletter import feeds

    return feeds.Channel("weekly", WEEKLY_FEED_PATH, "feeds/weekly-archive", " · 주간")


def entry(
    week: WeekDigests,
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource,
) -> feeds.IssueEntry:
    """The week as a feed entry; `week` may hold outlines (the content comes rendered)."""
    from newsletter import feeds

    chosen = edition(week, settings)
    thumbnails = [p.paper.thumbnail_url for p in chosen.picks if p.paper.thumbnail_url]
    top = chosen.picks[:3]
    return feeds.IssueEntry(
        # RFC 4287 §4.2.6: the week's name never changes, whatever the site's address.
        id=f"tag:{settings.feed_id_authority}:weekly/{week.week.slug}",
        title=chosen.headline,
        link=settings.url(page_path(week.week)),
        published=published_time(week.week, settings),
        updated=updated_time(week, settings, updated),
        content_html=content(week),
        summary=" · ".join(f"{p.paper.title} (추천 {p.paper.votes})" for p in top),
        categories=(feeds.Category(*feeds.DAILY_PAPERS_CATEGORY), feeds.Category("weekly", "주간")),
        thumbnail_url=thumbnails[0] if thumbnails else None,
    )


def feed_files(
    weeks: Sequence[WeekDigests],
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource,
) -> Files:
    """weekly.xml: every finished week no archive page holds, newest first."""
    from newsletter import feeds

    if not weeks:
        return {}  # no entry, so no `updated` a rebuild could reproduce
    archive = feeds.archive_chunks(weeks, settings.feed_entries)
    latest = weeks[len(archive) * settings.feed_entries :]
    entries = [entry(week, settings, updated, content) for week in reversed(latest)]
    atom = feeds.subscription_atom(entries, len(archive) or None, settings, feed_channel())
    return {WEEKLY_FEED_PATH: atom}


def archive_page_files(
    chunk: feeds.ArchiveChunk[WeekDigests],
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource,
) -> Files:
    """One RFC 5005 archive page of the weekly feed: its entries never change."""
    from newsletter import feeds

    entries = [entry(week, settings, updated, content) for week in reversed(chunk.digests)]
    page_updated = max(updated_time(week, settings, updated) for week in chunk.digests)
    page = feeds.ArchivePage(chunk.number, tuple(entries), chunk.has_next, page_updated)
    path = feeds.archive_path(page.number, feed_channel())
    return {path: feeds.archive_page_atom(page, settings, feed_channel())}


# --- links from the daily pages and the index -------------------------------------------------


def week_of_issue(weeks: Sequence[WeekDigests]) -> dict[dt.date, Week]:
    """Each digest date whose week is finished → that week (the daily page links to it)."""
    return {digest.date: week.week for week in weeks for digest in week.digests}


def weeks_by_month(weeks: Sequence[WeekDigests]) -> dict[str, list[Week]]:
    """`YYYY-MM` → the finished weeks, newest first, listed under the month of their newest
    digest (a month the index always shows)."""
    listed: dict[str, list[Week]] = {}
    for week in reversed(weeks):
        listed.setdefault(f"{week.digests[-1].date:%Y-%m}", []).append(week.week)
    return listed
