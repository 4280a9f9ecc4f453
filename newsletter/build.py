"""Orchestration: parse the seeds, render every output from the model, then bring the output
folders to exactly that.

Two output folders: the site (`--output`, default `public/`, deployed: pages and feeds) and
the outbox (`--outbox`, default `outbox/`, never deployed: `<name>/issue.eml`, `email.html`,
`email.txt` per email edition, which `newsletter send NAME` reads).

The seam for new outputs:
1. A renderer is a pure function returning {relative path: bytes} (`site.site_files`,
   `site.issue_page_files`, `feeds.*`, `mail.issue_email_files`).
2. `_build` hands its files to `Outputs.site` or `Outputs.outbox` (path → bytes, or a blob
   of the build cache when the rendering was cached with `_Render.cached_files`, keyed by
   everything it depends on).
3. Nothing touches an output folder until every renderer succeeded: a bad digest or a
   template error leaves both folders as they were. Then `_apply` (the one place that
   writes output) writes only the files that differ, removes what is no longer wanted and
   records the result (output.py). A file in an output folder that no renderer returned is
   removed, so a tool that adds files to public/ (a search index) must return them as
   files to `Outputs.site`, not write them there itself.

Per-issue work (parsing, the email with its inlined CSS, the issue page) is cached by
content and, on a cold build, spread over all cores. Heavy libraries (jinja2, feedgen,
markdown-it, the CSS inliner) are imported by the renderers when first needed, so a build
with nothing new does not load them.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from newsletter import output
from newsletter.cache import (
    CACHE_DIR_ENV,
    DEFAULT_CACHE_DIR,
    Blob,
    BuildCache,
    Record,
    code_fingerprint,
    file_list,
    file_shas,
    files_fingerprint,
    hash_parts,
    is_blob,
)
from newsletter.config import Settings
from newsletter.errors import ConfigError, DigestError, Problem
from newsletter.model import (
    Digest,
    digest_as_dict,
    digest_from_dict,
    outline_as_row,
    outline_from_row,
)
from newsletter.parse import duplicate_date_problems, find_digest_files
from newsletter.templating import reload_templates, template_folders

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future, ProcessPoolExecutor

    from newsletter import weekly

    # Each search group's cache key, with its Pagefind run when the cache lacks it.
    _Search = list[tuple[str, Future[dict[str, bytes]] | None]]

Files = dict[str, bytes]
Progress = Callable[[int, int], None]  # (issues done, issues in all)
_Task = TypeVar("_Task")
_Result = TypeVar("_Result")
_View = TypeVar("_View")  # a cache record as its reader takes it in

# Below this many tasks a process pool costs more than it saves.
_POOL_THRESHOLD = 24
_SEARCH_INDEX = "search_index"  # the tag of a search index's cache entries
DEFAULT_OUTBOX = Path("outbox")


@dataclass(frozen=True)
class BuildReport:
    issues: int
    rendered: int
    reused: int
    seconds: float


@dataclass
class Outputs:
    """What the build wants in each output folder: relative path → bytes, or a cache blob."""

    site: dict[str, output.Content] = field(default_factory=dict)
    outbox: dict[str, output.Content] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    path: str  # as shown in messages and stored in the model
    key: str  # cache key of the parsed digest


@dataclass(frozen=True)
class _Parsed:
    """A digest as the main process keeps it: its outline, and its full form as a blob."""

    outline: Digest
    digest: Blob


@dataclass(frozen=True)
class _IssueTask:
    source_path: str
    digest: Blob  # the full digest is loaded from the cache by whoever renders it
    settings: Settings
    cache_root: Path
    # What the issue page links to (the email does not): its neighbours and finished week.
    previous: Digest | None = None
    following: Digest | None = None
    week: weekly.Week | None = None


@dataclass(frozen=True)
class _WeekTask:
    week: weekly.WeekDigests  # outlines; the full digests are loaded by whoever renders it
    digests: tuple[tuple[Blob, str], ...]  # each digest's blob and source path
    settings: Settings
    cache_root: Path


class _DamagedCache(Exception):
    """Blobs the build needs turned out garbled; they are deleted, and the build restarts
    treating every cache record that refers to them as a miss."""

    def __init__(self, shas: set[str]) -> None:
        super().__init__(f"{len(shas)} damaged cache blobs")
        self.shas = shas


def default_outbox(output_dir: Path) -> Path:
    """The outbox beside the output folder, as the command line's defaults have it."""
    return output_dir.parent / DEFAULT_OUTBOX


def build(
    seeds_dir: Path,
    output_dir: Path,
    settings: Settings,
    *,
    outbox_dir: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    with_search: bool = True,
) -> BuildReport:
    """Build the site into `output_dir` and the email editions into `outbox_dir` (default:
    `outbox/` beside the output folder)."""
    started = time.perf_counter()
    reload_templates()
    cache_root = cache_dir or Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)
    folders = (output_dir, outbox_dir or default_outbox(output_dir))
    _check_apart(*folders)
    distrusted: set[str] = set()
    for _attempt in range(5):
        try:
            # The output folders are scanned by a child process meanwhile (output.scanning).
            with (
                _collector_paused(),
                output.scanning(folders) as scanned,
                _Workers.started_as_needed(workers) as pool,
            ):
                rendered, issues = _build(
                    seeds_dir,
                    folders,
                    settings,
                    cache_root,
                    pool,
                    progress,
                    distrusted,
                    with_search,
                    scanned,
                )
            break
        except _DamagedCache as damage:
            distrusted |= damage.shas
    else:
        raise RuntimeError(f"the build cache {cache_root} keeps changing under the build")
    return BuildReport(issues, rendered, issues - rendered, time.perf_counter() - started)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off in the build's own process: a build holds
    hundreds of thousands of long-lived objects (the cache index, every digest's outline)
    that form no cycles, and each full collection walked them all again: 40% of a build
    with nothing new at 5,000 digests. Reference counting still frees everything else;
    worker processes (rendering many issues) collect as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_apart(output_dir: Path, outbox_dir: Path) -> None:
    """Each build removes from an output folder what it did not write there, so neither
    folder may hold the other."""
    site, outbox = output_dir.resolve(), outbox_dir.resolve()
    if site == outbox or site in outbox.parents or outbox in site.parents:
        raise ConfigError(
            f"--output {output_dir} and --outbox {outbox_dir} must be separate folders, "
            "neither inside the other"
        )


def _build(
    seeds_dir: Path,
    folders: tuple[Path, Path],
    settings: Settings,
    cache_root: Path,
    workers: _Workers,
    progress: Progress | None,
    distrusted: set[str],
    with_search: bool,
    scanned: Callable[[], list[output.Scan]],
) -> tuple[int, int]:
    """(issues rendered, issues in all)"""
    cache = BuildCache(cache_root, distrusted)
    code = code_fingerprint()
    sources = _read_sources(seeds_dir, code, cache)
    parsed = _parse_all(sources, cache, workers)
    source_key = {p.outline.date: source.key for p, source in zip(parsed, sources, strict=True)}
    parsed.sort(key=lambda p: p.outline.date)
    digests = [p.outline for p in parsed]
    updated = source_times(digests, seeds_dir, settings)
    # Templates by their bytes: a changed template renders everything again.
    templates = files_fingerprint(template_folders(settings.templates_dir))
    context = hash_parts(code, settings.fingerprint(), templates)
    from newsletter import weekly

    weeks = weekly.finished_weeks(digests)
    render = _Render(cache, context, source_key, settings)
    rendered = render.issue_pages(parsed, workers, progress, weekly.week_of_issue(weeks))
    render.weekly_editions(weeks, workers)
    with _background(workers.count if with_search else 0) as threads:
        # Pagefind indexes the issue pages (final now) while the rest is rendered.
        search = render.start_search_indexes(digests, threads) if threads else None
        rendered |= render.issue_emails(parsed, workers, progress)
        render.site_pages(digests, weekly.weeks_by_month(weeks))
        render.feeds(digests, updated, weeks)
        site_scan, outbox_scan = scanned()
        outbox_plan = _plan(folders[1], render.outputs.outbox, cache_root, outbox_scan)
        if search is not None:
            render.finish_search_indexes(search)
        else:
            render.keep_search_indexes()
    plans = [_plan(folders[0], render.outputs.site, cache_root, site_scan), outbox_plan]
    _check_blobs(plans, cache)
    cache.save()
    _apply(plans, cache)
    return len(rendered), len(digests)


def _lost_search_index() -> dict[str, bytes]:
    raise RuntimeError("a search index found in the cache left it during the build")


@contextmanager
def _background(workers: int) -> Iterator[Executor | None]:
    """Threads for work that runs in other processes (Pagefind), none when `workers` is 0.
    A failed build does not wait for the work not yet started."""
    if workers == 0:
        yield None
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _apply(plans: Sequence[output.Plan], cache: BuildCache) -> None:
    """The one place that changes the output folders, once everything is rendered."""
    for plan in plans:
        output.apply(plan, lambda blob: cache.blob_path(blob[0]))


def _check_blobs(plans: Sequence[output.Plan], cache: BuildCache) -> None:
    """Every cached file about to be copied out must be intact (those rendered by this build
    just were); if any is not, delete it and build again without it, before the output is
    touched."""
    damaged = set()
    for plan in plans:
        for blob in plan.writes_from_cache().values():
            if blob[0] not in cache.fresh and cache.read_blob(blob) is None:
                damaged.add(blob[0])
    _build_again_without(damaged, cache)


def _build_again_without(damaged: set[str], cache: BuildCache) -> None:
    """Delete the damaged blobs and start the build again (build() retries), so the files
    they held are rendered anew; nothing when none is damaged."""
    if damaged:
        for sha in damaged:
            Path(cache.blob_path(sha)).unlink(missing_ok=True)
        raise _DamagedCache(damaged)


def _plan(
    folder: Path, wanted: Mapping[str, output.Content], cache_root: Path, scanned: output.Scan
) -> output.Plan:
    return output.plan(folder, wanted, _manifest_path(cache_root, folder), scanned)


def _manifest_path(cache_root: Path, folder: Path) -> Path:
    """Where the record of what an output folder holds lives: in the cache, per folder."""
    return cache_root / "outputs" / f"{hash_parts(str(folder.resolve()))[:32]}.json"


class _Render:
    """Renders what the cache lacks and collects every output file in `outputs`."""

    def __init__(
        self, cache: BuildCache, context: str, source_key: Mapping[dt.date, str], settings: Settings
    ) -> None:
        self.cache, self.context = cache, context
        self.source_key, self.settings = source_key, settings
        self.outputs = Outputs()
        self.entries: dict[dt.date, Blob] = {}  # each issue's feed entry HTML
        self.parsed: Sequence[_Parsed] = ()
        self.full_digests: dict[dt.date, Blob] = {}
        self.week_entries: dict[str, Blob] = {}  # each week's feed entry HTML
        self.week_tasks: dict[str, tuple[str, _WeekTask]] = {}
        # The keys each cached_files call now rendering looks up, innermost last.
        self._inner_keys: list[list[str]] = []

    def issue_pages(
        self,
        parsed: Sequence[_Parsed],
        workers: _Workers,
        progress: Progress | None,
        weeks: Mapping[dt.date, weekly.Week],
    ) -> set[dt.date]:
        """Each issue's page, which links its neighbours and its week; returns the dates of
        those rendered (progress: the first half of the issues' work)."""
        digests = [p.outline for p in parsed]
        self.parsed = parsed
        self.full_digests = {p.outline.date: p.digest for p in parsed}
        around = list(neighbours(digests))
        weeks_of = [weeks.get(digest.date) for digest in digests]
        keys = [
            self._issue_key(digest, previous, following, week)
            for (digest, previous, following), week in zip(around, weeks_of, strict=True)
        ]

        def task(index: int) -> _IssueTask:
            digest, previous, following = around[index]
            return _IssueTask(
                digest.source_path,
                parsed[index].digest,
                self.settings,
                self.cache.root,
                previous,
                following,
                weeks_of[index],
            )

        shown = _halves(progress, len(keys), 0)
        pages, rendered = self._records(keys, _page_record, task, _render_issue_page, workers)
        for done, page in enumerate(pages, 1):
            self.outputs.site.update(page)
            shown(done)
        return {digests[index].date for index in rendered}

    def issue_emails(
        self, parsed: Sequence[_Parsed], workers: _Workers, progress: Progress | None
    ) -> set[dt.date]:
        """Each issue's email and feed entry, which depend on the issue alone (a new issue
        does not render its neighbour's again); returns the dates of those rendered."""
        keys = [hash_parts(self.context, "email", self.source_key[p.outline.date]) for p in parsed]

        def task(index: int) -> _IssueTask:
            item = parsed[index]
            return _IssueTask(item.outline.source_path, item.digest, self.settings, self.cache.root)

        shown = _halves(progress, len(keys), len(keys))
        emails, rendered = self._records(keys, _email_record, task, _render_issue_email, workers)
        for done, (item, (outbox, entry)) in enumerate(zip(parsed, emails, strict=True), 1):
            self.outputs.outbox.update(outbox)
            self.entries[item.outline.date] = entry
            shown(done)
        return {parsed[index].outline.date for index in rendered}

    def _records(
        self,
        keys: Sequence[str],
        read: Callable[[Record | None], _View | None],
        task: Callable[[int], _Task],
        render: Callable[[_Task], Record],
        workers: _Workers,
    ) -> tuple[Iterator[_View], list[int]]:
        """Each key's record as `read` takes it in, from the cache, or rendered from its
        `task` (in a process pool when many are missing) and stored: lazily, in order, so
        progress can be shown. Also the indexes of those rendered."""
        known = [read(self.cache.get(key)) for key in keys]
        missing = [index for index, view in enumerate(known) if view is None]
        fresh = iter(workers.map(render, [task(index) for index in missing]))

        def each() -> Iterator[_View]:
            for key, view in zip(keys, known, strict=True):
                if view is None:
                    record = next(fresh)
                    self.cache.put(key, record)
                    view = read(record) or _invalid(record)
                yield view

        return each(), missing

    def site_pages(
        self, digests: Sequence[Digest], weeks_by_month: Mapping[str, Sequence[weekly.Week]]
    ) -> None:
        """The index, the year pages, the 404 page and the style sheet; each year's page is
        cached on its own, so a new digest renders only its own year's."""

        def render() -> dict[str, output.Content]:
            from newsletter import site

            files: dict[str, output.Content] = {}
            files.update(site.site_wide_files(digests, self.settings, weeks_by_month))
            years = site.years_newest_first(digests)
            for index, year in enumerate(years):
                # The page links the years beside it.
                beside = [y.year for y in years[max(0, index - 1) : index + 2] if y is not year]
                key = hash_parts(
                    self.context,
                    f"year page {year.year} beside {beside}",
                    *(self.source_key[d.date] for month in year.months for d in month.digests),
                    *(
                        f"{month.slug} {week.slug} {week.label}"
                        for month in year.months
                        for week in weeks_by_month.get(month.slug, ())
                    ),
                )

                def page(year: site.Year = year, index: int = index) -> Files:
                    page = site.year_page(year, years, index, self.settings, weeks_by_month)
                    return {f"{year.path}index.html": page}

                files.update(self.cached_files(key, page))
            return files

        key = hash_parts(self.context, "site pages", *(self.source_key[d.date] for d in digests))
        self.outputs.site.update(self.cached_files(key, render))

    def feeds(
        self,
        digests: Sequence[Digest],
        updated: Mapping[dt.date, dt.datetime],
        weeks: Sequence[weekly.WeekDigests],
    ) -> None:
        """The subscription feeds (the newest entries) and the archive pages, of which only
        the newest is not yet final. All of them are cached under one key as well, so a
        build with nothing new does not load the feed libraries."""
        key = hash_parts(
            self.context,
            "feeds",
            *(self.source_key[digest.date] for digest in digests),
            *(updated[digest.date].isoformat() for digest in digests),
        )
        self.outputs.site.update(
            self.cached_files(key, lambda: self._feed_files(digests, updated, weeks))
        )

    def _feed_files(
        self,
        digests: Sequence[Digest],
        updated: Mapping[dt.date, dt.datetime],
        weeks: Sequence[weekly.WeekDigests],
    ) -> dict[str, output.Content]:
        from newsletter import feeds, weekly

        newest = digests[-self.settings.feed_entries :]
        key = hash_parts(
            self.context,
            f"current feeds of {len(digests)}",
            *(self.source_key[digest.date] for digest in newest),
            *(updated[digest.date].isoformat() for digest in newest),
        )
        content = self._entry_html
        files: dict[str, output.Content] = {}
        files.update(
            self.cached_files(
                key, lambda: feeds.current_feed_files(digests, self.settings, updated, content)
            )
        )
        for chunk in feeds.archive_chunks(digests, self.settings.feed_entries):
            key = hash_parts(
                self.context,
                f"archive page {chunk.number} next={chunk.has_next}",
                *(self.source_key[digest.date] for digest in chunk.digests),
                *(updated[digest.date].isoformat() for digest in chunk.digests),
            )

            def page(chunk: feeds.ArchiveChunk[Digest] = chunk) -> Files:
                return feeds.archive_page_files(chunk, self.settings, updated, content)

            files.update(self.cached_files(key, page))
        files.update(self._paper_feed(updated))

        def week_html(week: weekly.WeekDigests) -> str:
            content = self.cache.read_blob(self.week_entries[week.week.slug])
            if content is None:  # the cache lost it: render the week again
                key, task = self.week_tasks[week.week.slug]
                record = _render_week(task)
                self.cache.put(key, record)
                site, outbox, entry = _week_record(record) or _invalid(record)
                self.outputs.site.update(site)
                self.outputs.outbox.update(outbox)
                self.week_entries[week.week.slug] = entry
                content = self.cache.read_blob(entry) or b""
            return content.decode("utf-8")

        files.update(weekly.feed_files(weeks, self.settings, updated, week_html))
        for week_chunk in feeds.archive_chunks(weeks, self.settings.feed_entries):
            key = hash_parts(
                self.context,
                f"weekly archive page {week_chunk.number} next={week_chunk.has_next}",
                *(self.week_entries[week.week.slug][0] for week in week_chunk.digests),
                *(
                    weekly.updated_time(w, self.settings, updated).isoformat()
                    for w in week_chunk.digests
                ),
            )

            def week_page(chunk: feeds.ArchiveChunk[weekly.WeekDigests] = week_chunk) -> Files:
                return weekly.archive_page_files(chunk, self.settings, updated, week_html)

            files.update(self.cached_files(key, week_page))
        return files

    def _paper_feed(self, updated: Mapping[dt.date, dt.datetime]) -> Mapping[str, output.Content]:
        """papers.xml: every paper of the newest issues, from their full digests."""
        from newsletter import feeds

        newest = self.parsed[-feeds.PAPER_FEED_ISSUES :]
        key = hash_parts(
            self.context,
            "paper feed",
            *(self.source_key[item.outline.date] for item in newest),
            *(updated[item.outline.date].isoformat() for item in newest),
        )

        def render() -> Files:
            full = [_full_digest(self.cache, p.digest, p.outline.source_path) for p in newest]
            return feeds.paper_feed_files(full, self.settings, updated)

        return self.cached_files(key, render)

    def start_search_indexes(self, digests: Sequence[Digest], pool: Executor) -> _Search:
        """Start Pagefind on each group of issue pages (search.py) the cache lacks, in the
        background: a group whose pages did not change is not indexed, nor read, again."""
        from newsletter import search, site

        groups = [(g, search.group_key(g, self._page_sha)) for g in site.search_groups(digests)]
        stale = [
            g for g, key in groups if file_list((self.cache.get(key) or {}).get("files")) is None
        ]
        # The pages Pagefind will read, each read once; all must be intact before it runs.
        contents: dict[str, bytes] = {}
        damaged: set[str] = set()
        for group in stale:
            for path in group.pages:
                content = self.outputs.site[path]
                if isinstance(content, bytes):
                    contents[path] = content
                elif (found := self.cache.read_blob(content)) is not None:
                    contents[path] = found
                else:
                    damaged.add(content[0])
        _build_again_without(damaged, self.cache)
        running = {
            group.name: search.group_index(group, contents.__getitem__, pool) for group in stale
        }
        return [(key, running.get(group.name)) for group, key in groups]

    def finish_search_indexes(self, search: _Search) -> None:
        """Wait for the indexes `start_search_indexes` started; every index joins the
        output and the cache."""
        for key, running in search:
            render = running.result if running else _lost_search_index
            self.outputs.site.update(self.cached_files(key, render, tag=_SEARCH_INDEX))

    def keep_search_indexes(self) -> None:
        """A build without search keeps the indexes a build with search left in the cache:
        the next build with search does not index the whole archive again. (That build
        drops those whose pages changed since.)"""
        self.cache.keep_tagged(_SEARCH_INDEX)

    def _page_sha(self, path: str) -> str:
        """A site page's sha256, by its path in the site."""
        return output.blob_of(self.outputs.site[path])[0]

    def cached_files(
        self, key: str, render: Callable[[], Mapping[str, output.Content]], tag: str = ""
    ) -> Mapping[str, output.Content]:
        """The files `render` returns, from the cache when they are there under `key`.

        The record names the keys `render` looked up itself (the feeds' archive pages within
        all the feeds), and a hit keeps those in the cache too: the next build that misses
        the outer key (+1 digest) then renders only the inner parts that changed."""
        if self._inner_keys:
            self._inner_keys[-1].append(key)
        record = self.cache.get(key)
        files = file_list(record.get("files")) if record else None
        if files is not None:
            assert record is not None
            self.cache.keep(record.get("inner"))
            return files
        self._inner_keys.append([])
        try:
            rendered = render()
        finally:
            inner = self._inner_keys.pop()
        listing = {
            path: content if not isinstance(content, bytes) else self.cache.put_blob(content)
            for path, content in rendered.items()
        }
        stored: Record = {"files": listing, "inner": inner}
        if tag:
            stored[tag] = True  # BuildCache.keep_tagged finds it
        self.cache.put(key, stored)
        return rendered

    def _issue_key(
        self,
        digest: Digest,
        previous: Digest | None,
        following: Digest | None,
        week: weekly.Week | None,
    ) -> str:
        neighbour_keys = [self.source_key[d.date] if d else "" for d in (previous, following)]
        week_slug = week.slug if week else ""
        return hash_parts(self.context, self.source_key[digest.date], *neighbour_keys, week_slug)

    def weekly_editions(self, weeks: Sequence[weekly.WeekDigests], workers: _Workers) -> None:
        """Each finished week's page, email and feed entry, cached by the content keys of its
        own digests (so a new digest renders at most the week it finishes)."""
        keys, tasks = [], []
        for week in weeks:
            own = tuple(self.source_key[digest.date] for digest in week.digests)
            previous = week.previous.slug if week.previous else ""
            keys.append(hash_parts(self.context, "week", week.week.slug, previous, *own))
            parts = tuple((self.full_digests[d.date], d.source_path) for d in week.digests)
            tasks.append(_WeekTask(week, parts, self.settings, self.cache.root))
            self.week_tasks[week.week.slug] = (keys[-1], tasks[-1])
        editions, _rendered = self._records(
            keys, _week_record, tasks.__getitem__, _render_week, workers
        )
        for week, (site, outbox, entry) in zip(weeks, editions, strict=True):
            self.outputs.site.update(site)
            self.outputs.outbox.update(outbox)
            self.week_entries[week.week.slug] = entry

    def _entry_html(self, digest: Digest) -> str:
        """An issue's feed entry as rendered with its page, or rendered again if the cache
        lost it."""
        content = self.cache.read_blob(self.entries[digest.date])
        if content is not None:
            return content.decode("utf-8")
        from newsletter import feeds

        full = _full_digest(self.cache, self.full_digests[digest.date], digest.source_path)
        return feeds.issue_content_html(full, self.settings)


def _page_record(record: Record | None) -> Mapping[str, Blob] | None:
    """An issue page's cache record: its files."""
    return file_list(record.get("site")) if record is not None else None


def _email_record(record: Record | None) -> tuple[Mapping[str, Blob], Blob] | None:
    """An issue email's cache record: its files, and the issue's feed entry."""
    if record is None:
        return None
    outbox, entry = file_list(record.get("outbox")), record.get("entry")
    if outbox is None or not is_blob(entry):
        return None
    assert isinstance(entry, list | tuple)
    return outbox, (entry[0], entry[1])


def _week_record(
    record: Record | None,
) -> tuple[Mapping[str, Blob], Mapping[str, Blob], Blob] | None:
    """A weekly edition's cache record: its page's files, its email's, its feed entry."""
    page, email = _page_record(record), _email_record(record)
    return (page, *email) if page is not None and email is not None else None


def _invalid(record: Record) -> NoReturn:
    raise RuntimeError(f"an edition rendered into an invalid record: {record!r}")


def _read_sources(seeds_dir: Path, code: str, cache: BuildCache) -> list[_Source]:
    """Each digest file with its cache key, from its bytes' sha256 (files unchanged since
    the last build are not read again; parsing, when the cache lacks the digest, reads the
    file)."""
    paths = find_digest_files([seeds_dir])
    record = cache.root / "sources" / f"{hash_parts(str(seeds_dir.resolve()))[:32]}.json"
    shas = file_shas(record, paths)
    # Keyed by the bytes alone, not the path: `--seeds seeds`, `--seeds /abs/seeds` or a
    # moved checkout reuse the cache (the path is put back on load; see _parsed_record).
    return [
        _Source(path.as_posix(), hash_parts(code, sha))
        for path, sha in zip(paths, shas, strict=True)
    ]


def _parse_all(sources: Sequence[_Source], cache: BuildCache, workers: _Workers) -> list[_Parsed]:
    """Parse (or load from the cache) every source; all problems of all files in one error.

    Full digests go to the cache as blobs; what is kept in memory are their outlines (no
    bullets), all that the index, the feeds' metadata and the neighbour links need."""
    known = [_parsed_record(cache.get(source.key), source.path) for source in sources]
    missing = [source for source, item in zip(sources, known, strict=True) if item is None]
    fresh = iter(workers.map(_parse_source, [(s, cache.root) for s in missing]))
    result: list[_Parsed] = []
    problems: list[Problem] = []
    for source, item in zip(sources, known, strict=True):
        if item is None:
            parsed = next(fresh)
            if not isinstance(parsed, _Parsed):
                problems.extend(parsed)
                continue
            cache.put(
                source.key, {"digest": parsed.digest, "outline": outline_as_row(parsed.outline)}
            )
            item = parsed
        result.append(item)
    problems.extend(duplicate_date_problems(p.outline for p in result))
    if problems:
        raise DigestError(problems)
    return result


def _parsed_record(record: Record | None, source_path: str) -> _Parsed | None:
    if record is None or not is_blob(record.get("digest")):
        return None
    try:
        outline = outline_from_row(record.get("outline"), source_path)
    except (ValueError, TypeError):
        return None
    blob = record["digest"]
    assert isinstance(blob, list | tuple)
    return _Parsed(outline, (blob[0], blob[1]))


def _parse_source(task: tuple[_Source, Path]) -> _Parsed | tuple[Problem, ...]:
    """Parse one digest file and keep it in the cache; returns its outline and blob.
    Problems, not the exception, cross the process boundary: they pickle as plain values."""
    from newsletter.parse import parse_file

    source, cache_root = task
    try:
        digest = parse_file(source.path)
    except DigestError as error:
        return error.problems
    blob = BuildCache(cache_root).put_blob(_digest_json(digest))
    return _Parsed(digest.outline(), blob)


def _digest_json(digest: Digest) -> bytes:
    return json.dumps(digest_as_dict(digest), ensure_ascii=False, separators=(",", ":")).encode()


def _full_digest(cache: BuildCache, blob: Blob, source_path: str) -> Digest:
    """The whole digest from the cache, or parsed again when the cache lost it."""
    content = cache.read_blob(blob)
    if content is not None:
        try:
            # The blob holds the path of whichever build stored it (the key is the bytes'
            # alone), so it is replaced by this build's.
            return replace(digest_from_dict(json.loads(content)), source_path=source_path)
        except ValueError:
            pass
    from newsletter.parse import parse_file

    return parse_file(source_path)


def _render_issue_page(task: _IssueTask) -> Record:
    """Render one issue's page straight into the cache's blobs, so the main process holds
    only their names: memory stays flat however long the archive."""
    from newsletter import site

    cache = BuildCache(task.cache_root)
    digest = _full_digest(cache, task.digest, task.source_path)
    page = site.issue_page_files(digest, task.previous, task.following, task.settings, task.week)
    return {"site": cache.put_files(page)}


def _render_issue_email(task: _IssueTask) -> Record:
    """Render one issue's email and feed entry straight into the cache's blobs."""
    from newsletter import feeds, mail

    cache = BuildCache(task.cache_root)
    digest = _full_digest(cache, task.digest, task.source_path)
    email = mail.issue_email_files(digest, task.settings)
    entry = feeds.issue_content_html(digest, task.settings).encode("utf-8")
    return {"outbox": cache.put_files(email), "entry": cache.put_blob(entry)}


def _render_week(task: _WeekTask) -> Record:
    """One finished week's page, email and feed entry, from its full digests."""
    from newsletter import weekly

    cache = BuildCache(task.cache_root)
    full = tuple(_full_digest(cache, blob, path) for blob, path in task.digests)
    rendered = weekly.render(replace(task.week, digests=full), task.settings)
    return {
        "site": cache.put_files(rendered.site),
        "outbox": cache.put_files(rendered.outbox),
        "entry": cache.put_blob(rendered.feed_content.encode("utf-8")),
    }


class _Workers:
    """The build's worker processes: started the first time a step has enough tasks (a
    cold build), then kept for the build's other steps, so that each imports the renderers
    once, not once a step. Fewer tasks are done in this process."""

    def __init__(self, count: int | None) -> None:
        self.count = count or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    @contextmanager
    def started_as_needed(cls, count: int | None) -> Iterator[_Workers]:
        workers = cls(count)
        try:
            yield workers
        finally:
            if workers._pool is not None:
                workers._pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self, function: Callable[[_Task], _Result], tasks: Sequence[_Task]
    ) -> Iterable[_Result]:
        if self.count == 1 or len(tasks) < _POOL_THRESHOLD:
            return map(function, tasks)
        chunk = max(1, min(32, len(tasks) // (self.count * 8)))
        return self._started().map(function, tasks, chunksize=chunk)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            import threading
            from concurrent.futures import ProcessPoolExecutor

            # A forked worker inherits this process as it is, the renderers it imported
            # included; with other threads running (Pagefind's), whose locks it would
            # inherit held, it starts from a fresh interpreter instead.
            method = "fork" if threading.active_count() == 1 else "forkserver"
            self._pool = ProcessPoolExecutor(
                max_workers=self.count,
                mp_context=multiprocessing.get_context(method),
                initializer=gc.enable,
            )
        return self._pool


def _halves(progress: Progress | None, count: int, before: int) -> Callable[[int], None]:
    """Progress of one of the two passes over the issues (pages, then emails): `done` of
    this pass's `count`, after `before` steps, out of both passes' steps."""
    if progress is None:
        return lambda done: None
    return lambda done: progress(before + done, 2 * count)


def neighbours(digests: Sequence[Digest]) -> Iterator[tuple[Digest, Digest | None, Digest | None]]:
    """Each digest (oldest first) with the one before and the one after it."""
    for index, digest in enumerate(digests):
        previous = digests[index - 1] if index > 0 else None
        following = digests[index + 1] if index + 1 < len(digests) else None
        yield digest, previous, following


def source_times(
    digests: Sequence[Digest], seeds_dir: Path, settings: Settings
) -> dict[dt.date, dt.datetime]:
    """When each digest last changed (RFC 4287 §4.2.15 `updated`): its publication time,
    or, once a commit has edited its file, the last such commit's time. Never the build's
    clock, so a rebuild changes no byte; a file that was only ever added (or renamed) keeps
    its publication time, so digests committed together still get distinct times."""
    edits = _last_edit_times(seeds_dir)
    times = {}
    for digest in digests:
        published = settings.published_time(digest.date)
        edited = edits.get(Path(digest.source_path).name)
        times[digest.date] = max(published, edited) if edited else published
    return times


def _last_edit_times(folder: Path) -> Mapping[str, dt.datetime]:
    """{file name: time of the newest commit that modified it}, from one `git log` call;
    files whose newest commit added them are left out. Outside git: nothing."""
    command = ["git", "-C", str(folder), "log", "--format=%x00%ct", "--name-status"]
    command += ["--relative", "--no-renames", "--", "."]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return {}
    newest: dict[str, tuple[str, dt.datetime]] = {}
    commit_time = None
    for line in result.stdout.splitlines():
        if line.startswith("\0"):
            commit_time = dt.datetime.fromtimestamp(int(line[1:]), dt.UTC)
        elif "\t" in line and commit_time is not None:
            status, name = line.split("\t", 1)
            newest.setdefault(Path(name).name, (status, commit_time))  # newest commit first
    return {name: time for name, (status, time) in newest.items() if status == "M"}
