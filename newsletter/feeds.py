"""Atom 1.0 with RFC 5005 archive pages, RSS 2.0 and JSON Feed 1.1 from the model, and a
per-paper Atom feed (`papers.xml`: one entry per paper of the newest issues).

Each digest (and each paper of papers.xml) becomes one `IssueEntry`, built once; feedgen
serialises the entries to Atom and RSS, `json` to JSON Feed. Everything here is pure: output
depends only on the arguments and the templates (no clock: feedgen's `now()` defaults are
always overridden).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from newsletter import __version__
from newsletter.config import Settings
from newsletter.markup import escape, inline_text
from newsletter.model import Digest, Paper
from newsletter.templating import environment

FEED_PATH = "feed.xml"
RSS_PATH = "rss.xml"
JSON_FEED_PATH = "feed.json"
PAPERS_PATH = "papers.xml"
PAPER_FEED_ISSUES = 7  # papers.xml holds every paper of the newest week of issues
ARCHIVE_FOLDER = "feeds/archive"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
HISTORY_NAMESPACE = "http://purl.org/syndication/history/1.0"  # RFC 5005 §5
GENERATOR = "daily-papers-newsletter"
DAILY_PAPERS_CATEGORY = ("daily-papers", "Daily Papers")
MARK_SIZE = 144  # pixels, templates/site/icon.png
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Channel:
    """One Atom feed and its RFC 5005 archive: the daily issues, or the weekly editions."""

    name: str  # the last part of the feed's tag URI id; never change it
    path: str
    archive_folder: str
    title_suffix: str = ""


DAILY = Channel("feed", FEED_PATH, ARCHIVE_FOLDER)


@dataclass(frozen=True)
class Category:
    term: str
    label: str


@dataclass(frozen=True)
class IssueEntry:
    """One digest as a feed entry, in every format's terms; all text is plain except
    `content_html`, which the template rendered and `markup.py` sanitised."""

    id: str
    title: str
    link: str
    published: dt.datetime
    updated: dt.datetime
    content_html: str
    summary: str
    categories: tuple[Category, ...]
    thumbnail_url: str | None


@dataclass(frozen=True)
class ArchivePage:
    """One RFC 5005 archive document: `entries` newest first, never changing once published;
    `has_next` once the archive page after it exists."""

    number: int
    entries: tuple[IssueEntry, ...]
    has_next: bool
    updated: dt.datetime


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str | None = None


ContentSource = Callable[[Digest], str]


@dataclass(frozen=True)
class ArchiveChunk(Generic[_Item]):
    """The digests (or weeks) of one full RFC 5005 archive page, oldest first, before
    rendering."""

    number: int
    digests: tuple[_Item, ...]
    has_next: bool


def feed_files(
    digests: Sequence[Digest],
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource | None = None,
) -> dict[str, bytes]:
    """feed.xml (newest `feed_entries`), its archive pages, rss.xml and feed.json.

    `digests` are oldest first; `updated` gives each digest's last change (from git);
    `content` gives an entry's HTML (the build passes its cached renderings)."""
    files = current_feed_files(digests, settings, updated, content)
    for chunk in archive_chunks(digests, settings.feed_entries):
        files.update(archive_page_files(chunk, settings, updated, content))
    return files


def current_feed_files(
    digests: Sequence[Digest],
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource | None = None,
) -> dict[str, bytes]:
    """feed.xml, rss.xml and feed.json: every digest no archive page holds, newest first."""
    if not digests:
        return {}  # no entry, so no `updated` a rebuild could reproduce
    archive = archive_chunks(digests, settings.feed_entries)
    latest = digests[len(archive) * settings.feed_entries :]
    current = tuple(
        issue_entry(d, settings, updated.get(d.date), content) for d in reversed(latest)
    )
    newest_archive = len(archive) or None
    return {
        FEED_PATH: subscription_atom(current, newest_archive, settings),
        RSS_PATH: rss_feed(current, settings),
        JSON_FEED_PATH: json_feed(current, settings),
    }


def archive_chunks(digests: Sequence[_Item], page_size: int) -> list[ArchiveChunk[_Item]]:
    """Full pages of `page_size` digests, counted from the oldest, leaving the subscription
    document between `page_size` and 2 × `page_size` − 1 of the newest.

    RFC 5005 §4: the set of entries of an archive document SHOULD NOT change, so only full
    pages are archived and a new issue only ever changes the subscription document. A page
    links `next-archive` once the page after it exists (§4: SHOULD, unless there is none):
    that one link is added to the newest archive page when the next is cut; its entries,
    which clients may keep for good, never change."""
    pages = max(0, len(digests) - page_size) // page_size
    return [
        ArchiveChunk(
            number,
            tuple(digests[(number - 1) * page_size : number * page_size]),
            has_next=number < pages,
        )
        for number in range(1, pages + 1)
    ]


def archive_page_files(
    chunk: ArchiveChunk[Digest],
    settings: Settings,
    updated: Mapping[dt.date, dt.datetime],
    content: ContentSource | None = None,
) -> dict[str, bytes]:
    """One archive document: depends only on its chunk, their times and the settings."""
    entries = [issue_entry(d, settings, updated.get(d.date), content) for d in chunk.digests]
    page_updated = max(_entry_time(d, settings, updated.get(d.date)) for d in chunk.digests)
    page = ArchivePage(chunk.number, tuple(reversed(entries)), chunk.has_next, page_updated)
    return {archive_path(page.number): archive_page_atom(page, settings)}


def issue_entry(
    digest: Digest,
    settings: Settings,
    updated: dt.datetime | None,
    content: ContentSource | None = None,
) -> IssueEntry:
    published = settings.published_time(digest.date)
    thumbnails = [paper.thumbnail_url for paper in digest.top_papers if paper.thumbnail_url]
    return IssueEntry(
        id=entry_id(digest, settings),
        title=digest.headline,
        link=settings.issue_url(digest.slug),
        published=published,
        updated=_entry_time(digest, settings, updated),
        content_html=content(digest) if content else issue_content_html(digest, settings),
        summary=issue_summary(digest),
        categories=(
            Category(*DAILY_PAPERS_CATEGORY),
            Category(f"{digest.date:%Y-%m}", f"{digest.date.year}년 {digest.date.month}월"),
        ),
        thumbnail_url=thumbnails[0] if thumbnails else None,
    )


def _entry_time(digest: Digest, settings: Settings, updated: dt.datetime | None) -> dt.datetime:
    # Shown in the configured zone whatever zone git reported, so the bytes are stable.
    return (updated or settings.published_time(digest.date)).astimezone(settings.zone)


def feed_id(settings: Settings, channel: Channel = DAILY) -> str:
    # RFC 4151 tag URI from a fixed authority: the id survives the site moving (RFC 4287 §4.2.6).
    return f"tag:{settings.feed_id_authority}:{channel.name}"


def entry_id(digest: Digest, settings: Settings) -> str:
    """The digest's date, not its file name: renaming a seed keeps the id (RFC 4287 §4.2.6)."""
    return f"tag:{settings.feed_id_authority}:issue/{digest.date.isoformat()}"


def issue_summary(digest: Digest, shown: int = 3) -> str:
    """The day's top papers with their votes, plain text."""
    top = digest.top_papers[:shown]
    summary = " · ".join(f"{paper.title} (추천 {paper.votes})" for paper in top)
    others = len(digest.papers) - len(top)
    return f"{summary} 외 {others}편" if others else summary


def issue_content_html(digest: Digest, settings: Settings) -> str:
    template = environment(settings).get_template("feed/issue.html")
    return template.render(digest=digest, issue_url=settings.issue_url(digest.slug))


def paper_feed_files(
    digests: Sequence[Digest], settings: Settings, updated: Mapping[dt.date, dt.datetime]
) -> dict[str, bytes]:
    """papers.xml: one entry per paper of `digests` (full digests, oldest first; the build
    passes the newest `PAPER_FEED_ISSUES`), newest issue first, file order within one."""
    if not digests:
        return {}
    entries = [
        paper_entry(paper, digest, settings, updated.get(digest.date))
        for digest in reversed(digests)
        for paper in digest.papers
    ]
    links = [
        Link(settings.url(PAPERS_PATH), "self", ATOM_TYPE),
        Link(settings.url(), "alternate", "text/html"),
    ]
    generator = _feed_generator(entries, settings, links, _newest_update(entries))
    generator.id(f"tag:{settings.feed_id_authority}:papers")  # not feed.xml's id
    generator.title(f"{settings.title} · 논문별")
    return {PAPERS_PATH: bytes(generator.atom_str(pretty=True))}


def paper_entry(
    paper: Paper, digest: Digest, settings: Settings, updated: dt.datetime | None
) -> IssueEntry:
    """One paper as a feed entry: its link is the paper, its content the issue's summary."""
    issue_url = settings.issue_url(digest.slug)
    template = environment(settings).get_template("feed/paper.html")
    summary = inline_text(paper.bullets[0]) if paper.bullets else paper.title
    return IssueEntry(
        id=paper_entry_id(paper, digest, settings),
        title=paper.title,
        link=paper.link,
        published=settings.published_time(digest.date),
        updated=_entry_time(digest, settings, updated),
        content_html=template.render(paper=paper, digest=digest, issue_url=issue_url),
        summary=summary,
        categories=(
            Category(*DAILY_PAPERS_CATEGORY),
            Category(f"{digest.date:%Y-%m}", f"{digest.date.year}년 {digest.date.month}월"),
        ),
        thumbnail_url=paper.thumbnail_url,
    )


def paper_entry_id(paper: Paper, digest: Digest, settings: Settings) -> str:
    """RFC 4151 tag URI of the issue date and the paper's URL: stable forever, and distinct
    when a paper returns in a later issue. The URL is percent-encoded where a tag's
    specific part (RFC 4151 §2.1: pchar, "/", "?") does not allow a character."""
    url = quote(paper.link, safe="/?:@!$&'()*+,;=-._~")
    return f"tag:{settings.feed_id_authority}:paper/{digest.date.isoformat()}/{url}"


def archive_path(number: int, channel: Channel = DAILY) -> str:
    return f"{channel.archive_folder}/{number:04d}.xml"


def archive_page_atom(page: ArchivePage, settings: Settings, channel: Channel = DAILY) -> bytes:
    """One archive document; depends only on the page and the settings (cacheable)."""

    def page_url(number: int) -> str:
        return settings.url(archive_path(number, channel))

    # RFC 5005 §4: archives link to the subscription document and their neighbours.
    links = [
        Link(page_url(page.number), "self", ATOM_TYPE),
        Link(settings.url(), "alternate", "text/html"),
        Link(settings.url(channel.path), "current", ATOM_TYPE),
    ]
    if page.number > 1:
        links.append(Link(page_url(page.number - 1), "prev-archive", ATOM_TYPE))
    if page.has_next:
        links.append(Link(page_url(page.number + 1), "next-archive", ATOM_TYPE))
    generator = _feed_generator(page.entries, settings, links, page.updated, channel)
    # RFC 5005 §4: fh:archive marks an archive document, whose entries do not change.
    generator.register_extension("history", _ArchiveMarker, _NoEntryExtension, rss=False)
    return bytes(generator.atom_str(pretty=True))


def subscription_atom(
    entries: Sequence[IssueEntry],
    newest_archive: int | None,
    settings: Settings,
    channel: Channel = DAILY,
) -> bytes:
    links = [
        Link(settings.url(channel.path), "self", ATOM_TYPE),
        Link(settings.url(), "alternate", "text/html"),
    ]
    if newest_archive is not None:
        # RFC 5005 §4: the subscription document leads to the whole history.
        newest = settings.url(archive_path(newest_archive, channel))
        links.append(Link(newest, "prev-archive", ATOM_TYPE))
    generator = _feed_generator(entries, settings, links, _newest_update(entries), channel)
    return bytes(generator.atom_str(pretty=True))


def rss_feed(entries: Sequence[IssueEntry], settings: Settings) -> bytes:
    # feedgen takes the channel <link> from the last link given: the site comes last.
    links = [Link(settings.url(RSS_PATH), "self", RSS_TYPE), Link(settings.url(), "alternate")]
    generator = _feed_generator(entries, settings, links, _newest_update(entries))
    generator.lastBuildDate(_newest_update(entries))  # feedgen's default is now()
    if settings.author_email:
        generator.managingEditor(f"{settings.author_email} ({settings.author_name})")
    return bytes(generator.rss_str(pretty=True))


def json_feed(entries: Sequence[IssueEntry], settings: Settings) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": settings.title,
        "home_page_url": settings.url(),
        "feed_url": settings.url(JSON_FEED_PATH),
        "description": settings.subtitle,
        "language": settings.language,
        "authors": [{"name": settings.author_name}],
    }
    # JSON Feed's icon is the large image (Atom's logo), its favicon the small one.
    document["icon"] = settings.logo_url()
    document["favicon"] = settings.icon_url()
    document["items"] = [_json_item(entry) for entry in entries]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _json_item(entry: IssueEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.link,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
    }
    if entry.thumbnail_url:
        item["image"] = entry.thumbnail_url
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    item["tags"] = [category.label for category in entry.categories]
    return item


def _newest_update(entries: Sequence[IssueEntry]) -> dt.datetime:
    return max(entry.updated for entry in entries)


def _feed_generator(
    entries: Sequence[IssueEntry],
    settings: Settings,
    links: Sequence[Link],
    updated: dt.datetime,
    channel: Channel = DAILY,
) -> FeedGenerator:
    generator = FeedGenerator()
    generator.load_extension("media", atom=True, rss=True)
    generator.load_extension("dc", atom=False, rss=True)  # Atom has its own <author>
    generator.register_extension("atom_fixes", BaseExtension, _AtomEntryFixes, rss=False)
    generator.id(feed_id(settings, channel))
    generator.title(settings.title + channel.title_suffix)
    generator.subtitle(settings.subtitle)
    generator.language(settings.language)
    generator.updated(updated)  # RFC 4287 §4.2.15; feedgen's default would be now()
    author = {"name": settings.author_name}
    if settings.author_email:
        author["email"] = settings.author_email
    generator.author(author)
    generator.generator(GENERATOR, version=__version__)
    generator.icon(settings.icon_url())
    if settings.logo:
        generator.logo(settings.logo)  # also the RSS <image>, size unknown
    else:  # the site's mark: RSS 2.0 <image> sizes, width at most 144
        generator.image(settings.logo_url(), width=str(MARK_SIZE), height=str(MARK_SIZE))
    for link in links:
        generator.link(_link_fields(link))
    for entry in entries:
        # feedgen prepends by default; entries arrive newest first and must stay so.
        target = generator.add_entry(order="append")
        _fill_feedgen_entry(target, entry)
        # Readers (newsboat, rss2email) show an item's own author, not the feed's. RSS 2.0's
        # <author> must be an e-mail address, so dc:creator names the author in RSS items.
        target.author({"name": settings.author_name})
        target.dc.dc_creator(settings.author_name)
    return generator


def _fill_feedgen_entry(target: FeedEntry, entry: IssueEntry) -> None:
    target.id(entry.id)  # also the RSS guid, isPermaLink="false"
    target.title(entry.title)
    target.link(href=entry.link, rel="alternate", type="text/html")
    target.published(entry.published)
    target.updated(entry.updated)
    # XML 1.0 §2.7: a CDATA section carries the HTML unescaped, ~8% smaller than escaping
    # every < > " of it, and readers get the same text. It cannot hold "]]>": such content
    # stays escaped. feedgen's type "CDATA" becomes Atom's type="html" in _AtomEntryFixes.
    cdata = "]]>" not in entry.content_html
    target.content(entry.content_html, type="CDATA" if cdata else "html")
    # RSS readers treat <description> as HTML (feedgen copies the summary there), so plain
    # text goes out HTML-escaped, declared as such for Atom (RFC 4287 §3.1.1.2).
    target.summary(escape(entry.summary), type="html")
    for category in entry.categories:
        target.category(term=category.term, label=category.label)
    if entry.thumbnail_url:
        target.media.thumbnail(url=entry.thumbnail_url, group=None)


def _link_fields(link: Link) -> dict[str, str]:
    fields = {"href": link.href, "rel": link.rel}
    if link.type:
        fields["type"] = link.type
    return fields


class _ArchiveMarker(BaseExtension):  # type: ignore[misc]
    """Adds RFC 5005's `<fh:archive/>` to an Atom feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NAMESPACE}

    def extend_atom(self, feed: Any) -> Any:
        xml_elem(f"{{{HISTORY_NAMESPACE}}}archive", feed)
        return feed


class _AtomEntryFixes(BaseEntryExtension):  # type: ignore[misc]
    """feedgen 1.0 writes an entry's <link> without its rel and type (it reads them back from
    the new element): an entry's only link is its issue page, say so explicitly. It also
    copies a content's type "CDATA" into the type attribute, which Atom does not know: the
    content is HTML (RFC 4287 §4.1.3.1), in a CDATA section or escaped."""

    def extend_atom(self, entry: Any) -> Any:
        # feedgen builds entries without a namespace; the feed's default xmlns applies later.
        for link in entry.iterfind("link"):
            link.set("rel", "alternate")
            link.set("type", "text/html")
        for content in entry.iterfind("content"):
            content.set("type", "html")
        return entry


class _NoEntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """feedgen registers every feed extension on entries too; this one adds nothing there."""
