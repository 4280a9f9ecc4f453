"""Web archive pages: an index of the newest issues, a page per year listing all of its
issues, one page per issue, a search page, a 404 page, a style sheet and the search script.

Every issue is two clicks from the index (index → year → issue), and the index stays small
however long the archive grows: it shows only the last `RECENT_DAYS` days.

Pages link to each other with relative URLs, so the same output works under `newsletter
serve`, on a GitHub Pages project site (a base URL with a path) and from disk. Only what
must be absolute is: canonical and Open Graph URLs, and every link on `404.html`, which
GitHub Pages serves at whatever path was missing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.config import ICON_PATH, Settings
from newsletter.model import Digest, Paper
from newsletter.templating import environment, template_bytes

if TYPE_CHECKING:  # weekly.py renders its page through this module
    from newsletter.weekly import Week

TOP_PAPERS_ON_INDEX = 3
DESCRIPTION_LIMIT = 200  # Open Graph descriptions are cut by most previews near here
RECENT_DAYS = 30  # the index shows the issues of the newest issue's last 30 days


@dataclass(frozen=True)
class Month:
    """The issues of one calendar month, newest first."""

    year: int
    month: int
    digests: tuple[Digest, ...]

    @property
    def slug(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Year:
    """The issues of one year, by month, newest first."""

    year: int
    months: tuple[Month, ...]

    @property
    def path(self) -> str:
        return year_path(self.year)

    @property
    def issue_count(self) -> int:
        return sum(len(month.digests) for month in self.months)


@dataclass(frozen=True)
class SearchGroup:
    """The issue pages one search index covers: a past year ("2023"), or one month of the
    newest year ("2024-05"). Indexing is ~10 ms a page here, so one new digest re-indexes
    only its month (~0.3 s), not its year (~3.5 s); a year is indexed whole once, when the
    next year begins."""

    name: str
    pages: tuple[str, ...]


def search_groups(digests: Sequence[Digest]) -> list[SearchGroup]:
    """Newest first: the search page loads the first and merges the others into it."""
    if not digests:
        return []
    newest_year = max(digest.date.year for digest in digests)

    def group_name(digest: Digest) -> str:
        return f"{digest.date:%Y-%m}" if digest.date.year == newest_year else f"{digest.date:%Y}"

    newest_first = sorted(digests, key=lambda digest: digest.date, reverse=True)
    return [
        SearchGroup(name, tuple(f"{issue_path(digest)}index.html" for digest in group))
        for name, group in itertools.groupby(newest_first, key=group_name)
    ]


def year_path(year: int) -> str:
    return f"years/{year:04d}/"


def issue_path(digest: Digest) -> str:
    return f"issues/{digest.slug}/"


def issue_page_files(
    digest: Digest,
    previous: Digest | None,
    following: Digest | None,
    settings: Settings,
    week: Week | None = None,  # the finished week the issue belongs to
) -> dict[str, bytes]:
    page = render_page(
        "site/issue.html",
        settings,
        root="../../",
        canonical_url=settings.issue_url(digest.slug),
        digest=digest,
        previous=previous,
        following=following,
        week=week,
        og_image=top_thumbnail(digest),
        description=issue_description(digest),
    )
    return {f"{issue_path(digest)}index.html": page}


def site_files(
    digests: Sequence[Digest],
    settings: Settings,
    weekly_by_month: Mapping[str, Sequence[Week]] | None = None,
) -> dict[str, bytes]:
    """The index, year pages and other site-wide files; `weekly_by_month` lists the weekly
    editions under each month (`YYYY-MM`) they are shown in."""
    files = site_wide_files(digests, settings, weekly_by_month)
    years = years_newest_first(digests)
    for index, year in enumerate(years):
        files[f"{year.path}index.html"] = year_page(year, years, index, settings, weekly_by_month)
    return files


def site_wide_files(
    digests: Sequence[Digest],
    settings: Settings,
    weekly_by_month: Mapping[str, Sequence[Week]] | None = None,
) -> dict[str, bytes]:
    """`site_files` but the year pages."""
    weekly_by_month = weekly_by_month or {}
    years = years_newest_first(digests)
    return {
        "index.html": render_page(
            "site/index.html",
            settings,
            root="",
            canonical_url=settings.url(),
            months=months_newest_first(recent_digests(digests)),
            years=years,
            recent_days=RECENT_DAYS,
            top_count=TOP_PAPERS_ON_INDEX,
            weekly_by_month=weekly_by_month,
        ),
        "search/index.html": render_page(
            "site/search.html",
            settings,
            root="../",
            canonical_url=settings.url("search/"),
            indexes=[group.name for group in search_groups(digests)],
        ),
        # GitHub Pages serves this page at any missing path: relative links would break.
        "404.html": render_page("site/404.html", settings, root=settings.url(), canonical_url=""),
        "subscribe/index.html": render_page(
            "site/subscribe.html",
            settings,
            root="../",
            canonical_url=settings.url("subscribe/"),
            list_address=settings.list_mailbox,
        ),
        "style.css": render_page("site/style.css", settings),
        # The site's mark: the feeds' default icon and logo, and the browser tab's icon.
        ICON_PATH: template_bytes(settings, "site/icon.png"),
        "favicon.ico": template_bytes(settings, "site/favicon.ico"),
        "search.js": render_page("site/search.js", settings),
    }


def year_page(
    year: Year,
    years: Sequence[Year],
    index: int,
    settings: Settings,
    weekly_by_month: Mapping[str, Sequence[Week]] | None = None,
) -> bytes:
    """Every issue of one year; `years` newest first, `year` at `index` among them."""
    return render_page(
        "site/year.html",
        settings,
        root="../../",
        canonical_url=settings.url(year.path),
        year=year,
        newer=years[index - 1] if index > 0 else None,
        older=years[index + 1] if index + 1 < len(years) else None,
        weekly_by_month=weekly_by_month or {},
    )


def recent_digests(digests: Sequence[Digest], days: int = RECENT_DAYS) -> list[Digest]:
    """The issues of the `days` days up to the newest one (not up to today: the output
    depends on the digests alone)."""
    if not digests:
        return []
    newest = max(digest.date for digest in digests)
    return [d for d in digests if d.date > newest - dt.timedelta(days=days)]


def years_newest_first(digests: Sequence[Digest]) -> list[Year]:
    return [
        Year(year, tuple(months))
        for year, months in itertools.groupby(
            months_newest_first(digests), key=lambda month: month.year
        )
    ]


def months_newest_first(digests: Sequence[Digest]) -> list[Month]:
    newest_first = sorted(digests, key=lambda digest: digest.date, reverse=True)
    return [
        Month(year, month, tuple(group))
        for (year, month), group in itertools.groupby(
            newest_first, key=lambda digest: (digest.date.year, digest.date.month)
        )
    ]


def top_thumbnail(digest: Digest) -> str | None:
    """The thumbnail of the most voted paper that has one: the issue's preview image."""
    return next((p.thumbnail_url for p in digest.top_papers if p.thumbnail_url), None)


def issue_description(digest: Digest) -> str:
    """A plain-text summary for link previews: the first bullet of the most voted paper."""
    from newsletter.markup import inline_text  # here: a build with nothing new renders nothing

    top: Paper = digest.top_papers[0]
    text = inline_text(top.bullets[0]) if top.bullets else top.title
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def render_page(template: str, settings: Settings, **context: object) -> bytes:
    # Imported here, like every renderer's library: a build with nothing new renders nothing.
    from newsletter.mailing.letters import subscribe_mailto

    env = environment(settings)
    # Every page shows how to get the issues by mail (`newsletter subscribers sync`).
    context.setdefault("subscribe_mailto", subscribe_mailto(settings.list_mailbox))
    context.setdefault("subscribe_weekly_mailto", subscribe_mailto(settings.list_mailbox, "weekly"))
    text = env.get_template(template).render(settings=settings, **context)
    return text.encode("utf-8")
