"""Web archive pages: the index of every issue, one page per issue, a 404 page, a style sheet.

Pages link to each other with relative URLs, so the same output works under `newsletter
serve`, on a GitHub Pages project site (a base URL with a path) and from disk. Only what
must be absolute is: canonical and Open Graph URLs, and every link on `404.html`, which
GitHub Pages serves at whatever path was missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.config import ICON_PATH, Settings
from newsletter.mailing.letters import subscribe_mailto
from newsletter.markup import inline_text
from newsletter.model import Digest, Paper
from newsletter.templating import environment, template_bytes

if TYPE_CHECKING:  # weekly.py renders its page through this module
    from newsletter.weekly import Week

TOP_PAPERS_ON_INDEX = 3
DESCRIPTION_LIMIT = 200  # Open Graph descriptions are cut by most previews near here


@dataclass(frozen=True)
class Month:
    """The issues of one calendar month, newest first."""

    year: int
    month: int
    digests: tuple[Digest, ...]

    @property
    def slug(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


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
    return {
        "index.html": render_page(
            "site/index.html",
            settings,
            root="",
            canonical_url=settings.url(),
            months=months_newest_first(digests),
            top_count=TOP_PAPERS_ON_INDEX,
            weekly_by_month=weekly_by_month or {},
        ),
        # GitHub Pages serves this page at any missing path: relative links would break.
        "404.html": render_page("site/404.html", settings, root=settings.url(), canonical_url=""),
        "subscribe/index.html": render_page(
            "site/subscribe.html",
            settings,
            root="../",
            canonical_url=settings.url("subscribe/"),
            list_address=settings.list_mailbox,
            subscribe_weekly_mailto=subscribe_mailto(settings.list_mailbox, "weekly"),
        ),
        "style.css": render_page("site/style.css", settings),
        # The site's mark: the feeds' default icon and logo, and the browser tab's icon.
        ICON_PATH: template_bytes(settings, "site/icon.png"),
        "favicon.ico": template_bytes(settings, "site/favicon.ico"),
    }


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
    top: Paper = digest.top_papers[0]
    text = inline_text(top.bullets[0]) if top.bullets else top.title
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def render_page(template: str, settings: Settings, **context: object) -> bytes:
    env = environment(settings)
    # Every page shows how to get the issues by mail (`newsletter subscribers sync`).
    context.setdefault("subscribe_mailto", subscribe_mailto(settings.list_mailbox))
    text = env.get_template(template).render(settings=settings, **context)
    return text.encode("utf-8")
