"""Orchestration: parse the seeds, render every output from the model, write it atomically.

Renderers are pure: each returns {relative path: bytes}. Per-issue work (parsing, the email
with its inlined CSS, the issue page) is cached by content and, on a cold build, spread over
all cores. Only this module touches the output folder: it fills a staging folder and swaps
it into place, so a failed build leaves the previous output untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

from newsletter import feeds, mail, search, site, weekly
from newsletter.cache import (
    CACHE_DIR_ENV,
    DEFAULT_CACHE_DIR,
    BuildCache,
    FileList,
    code_fingerprint,
    files_fingerprint,
    hash_parts,
    link_or_copy,
)
from newsletter.config import Settings
from newsletter.errors import DigestError, Problem
from newsletter.model import Digest
from newsletter.parse import duplicate_date_problems, find_digest_files, parse_file
from newsletter.templating import template_folders

Files = dict[str, bytes]
Progress = Callable[[int, int], None]  # (issues done, issues in all)
_Task = TypeVar("_Task")
_Result = TypeVar("_Result")

# Below this many tasks a process pool costs more than it saves.
_POOL_THRESHOLD = 24


@dataclass(frozen=True)
class BuildReport:
    issues: int
    rendered: int
    reused: int
    seconds: float


@dataclass(frozen=True)
class _Source:
    path: str  # as shown in messages and stored in the model
    key: str  # cache key of the parsed digest


@dataclass(frozen=True)
class _IssueTask:
    digest_key: str  # the full digest is loaded from the cache by whoever renders it
    previous: Digest | None
    following: Digest | None
    settings: Settings
    cache_root: Path
    week: weekly.Week | None = None  # its finished week, which the issue page links to


@dataclass(frozen=True)
class _WeekTask:
    week: weekly.WeekDigests  # outlines; the full digests are loaded by whoever renders it
    digest_keys: tuple[str, ...]
    settings: Settings
    cache_root: Path


@dataclass(frozen=True)
class _IssueOutput:
    """What the cache keeps of one rendered issue: its files and its feed entry's HTML."""

    files: FileList
    feed_content: FileList


def build(
    seeds_dir: Path,
    output_dir: Path,
    settings: Settings,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    with_search: bool = True,
) -> BuildReport:
    started = time.perf_counter()
    cache = BuildCache(cache_dir or Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR))
    code = code_fingerprint()
    sources = _read_sources(seeds_dir, code)
    digests = _parse_all(sources, cache, workers)
    # _parse_all returns one digest per source, in order (or raises)
    source_key = {digest.date: source.key for digest, source in zip(digests, sources, strict=True)}
    digests.sort(key=lambda digest: digest.date)
    updated = source_times(digests, seeds_dir, settings)
    weeks = weekly.finished_weeks(digests)
    # Templates by their bytes: a changed template renders everything again.
    templates = files_fingerprint(template_folders(settings.templates_dir))
    context = hash_parts(code, settings.fingerprint(), templates)
    with staged_output(output_dir) as stage:
        run = _CachedRender(cache, stage, context, source_key, settings)
        run.used_keys.update(source.key for source in sources)
        rendered = run.issues(digests, workers, progress, weekly.week_of_issue(weeks))
        stage.write(site.site_files(digests, settings, weekly.weeks_by_month(weeks)))
        run.feeds(digests, updated)
        run.weekly_editions(weeks, updated, workers)
        newest = [parse_file(d.source_path) for d in digests[-feeds.PAPER_FEED_ISSUES :]]
        stage.write(feeds.paper_feed_files(newest, settings, updated))
        if with_search:
            groups = site.search_groups(digests)
            search.write_indexes(Path(stage.root), groups, cache.root / "search")
    cache.prune(run.used_keys, run.used_blobs)
    return BuildReport(
        issues=len(digests),
        rendered=rendered,
        reused=len(digests) - rendered,
        seconds=time.perf_counter() - started,
    )


class _CachedRender:
    """Renders what the cache lacks, links everything into the stage, and remembers which
    cache entries and blobs this build used (the rest is pruned)."""

    def __init__(
        self,
        cache: BuildCache,
        stage: _Stage,
        context: str,
        source_key: Mapping[dt.date, str],
        settings: Settings,
    ) -> None:
        self.cache, self.stage, self.context = cache, stage, context
        self.source_key, self.settings = source_key, settings
        self.used_keys: set[str] = set()
        self.used_blobs: set[str] = set()
        self.feed_content: dict[dt.date, FileList] = {}

    def issues(
        self,
        digests: Sequence[Digest],
        workers: int | None,
        progress: Progress | None,
        weeks: Mapping[dt.date, weekly.Week],
    ) -> int:
        """Each issue's email and page, rendered in a process pool when many are missing;
        returns how many were rendered."""
        plans = [
            (
                self._issue_key(digest, previous, following, weeks.get(digest.date)),
                _IssueTask(
                    self.source_key[digest.date],
                    previous,
                    following,
                    self.settings,
                    self.cache.root,
                    weeks.get(digest.date),
                ),
            )
            for digest, previous, following in neighbours(digests)
        ]
        rendered, outputs = self._outputs(plans, _render_issue, workers)
        for done, (output, digest) in enumerate(zip(outputs, digests, strict=True), start=1):
            self.feed_content[digest.date] = output.feed_content
            if progress:
                progress(done, len(plans))
        return rendered

    def _outputs(
        self,
        plans: Sequence[tuple[str, _Task]],
        render: Callable[[_Task], _IssueOutput],
        workers: int | None,
    ) -> tuple[int, Iterator[_IssueOutput]]:
        """How many plans the cache lacks, and each plan's output in order (from the cache,
        or rendered, in a process pool when many are missing), linked into the stage."""
        cached = {key: self.cache.load(key) for key, _ in plans}
        missing = [task for key, task in plans if not self._usable(cached[key])]
        fresh = iter(_run(render, missing, workers))

        def outputs() -> Iterator[_IssueOutput]:
            for key, _ in plans:
                output = cached[key]
                if not self._usable(output):
                    output = next(fresh)
                    self.cache.store(key, output)
                assert isinstance(output, _IssueOutput)
                self._link(key, output.files)
                self.used_blobs.update(sha for sha, _ in output.feed_content.values())
                yield output

        return len(missing), outputs()

    def _cached_files(self, key: str, render: Callable[[], Files]) -> None:
        """Link the files cached under `key`, rendering and caching them first if missing."""
        listing = self.cache.load(key)
        if not self._usable_files(listing):
            listing = self.cache.put_files(render())
            self.cache.store(key, listing)
        assert isinstance(listing, dict)
        self._link(key, listing)

    def feeds(self, digests: Sequence[Digest], updated: Mapping[dt.date, dt.datetime]) -> None:
        """The subscription feeds (always rendered: the newest entries), and the archive
        pages, of which only the newest is not yet final."""
        content = self._cached_feed_content
        self.stage.write(feeds.current_feed_files(digests, self.settings, updated, content))
        for chunk in feeds.archive_chunks(digests, self.settings.feed_entries):
            key = hash_parts(
                self.context,
                f"archive page {chunk.number} next={chunk.has_next}",
                *(self.source_key[digest.date] for digest in chunk.digests),
                *(updated[digest.date].isoformat() for digest in chunk.digests),
            )
            self._cached_files(
                key, partial(feeds.archive_page_files, chunk, self.settings, updated, content)
            )

    def weekly_editions(
        self,
        weeks: Sequence[weekly.WeekDigests],
        updated: Mapping[dt.date, dt.datetime],
        workers: int | None,
    ) -> None:
        """Each finished week's page, email and feed entry, cached by the content keys of its
        own digests (so a new digest renders at most the week it finishes), then weekly.xml
        and its archive pages."""
        plans = [
            (
                self._week_key(week),
                _WeekTask(week, self._keys(week), self.settings, self.cache.root),
            )
            for week in weeks
        ]
        _, outputs = self._outputs(plans, _render_week, workers)
        content = {
            week.week: output.feed_content for week, output in zip(weeks, outputs, strict=True)
        }

        def entry_html(week: weekly.WeekDigests) -> str:
            return self._blob_text(content[week.week])

        self.stage.write(weekly.feed_files(weeks, self.settings, updated, entry_html))
        for chunk in feeds.archive_chunks(weeks, self.settings.feed_entries):
            key = hash_parts(
                self.context,
                f"weekly archive page {chunk.number} next={chunk.has_next}",
                *(self._week_key(week) for week in chunk.digests),
                *(
                    weekly.updated_time(w, self.settings, updated).isoformat()
                    for w in chunk.digests
                ),
            )
            self._cached_files(
                key, partial(weekly.archive_page_files, chunk, self.settings, updated, entry_html)
            )

    def _keys(self, week: weekly.WeekDigests) -> tuple[str, ...]:
        return tuple(self.source_key[digest.date] for digest in week.digests)

    def _week_key(self, week: weekly.WeekDigests) -> str:
        previous = week.previous.slug if week.previous else ""
        return hash_parts(self.context, "week", week.week.slug, previous, *self._keys(week))

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

    def _cached_feed_content(self, digest: Digest) -> str:
        return self._blob_text(self.feed_content[digest.date])

    def _blob_text(self, listing: FileList) -> str:
        ((sha, _),) = listing.values()
        with open(self.cache.blob_path(sha), encoding="utf-8") as file:
            return file.read()

    def _link(self, key: str, listing: FileList) -> None:
        self.stage.link(listing, self.cache)
        self.used_keys.add(key)
        self.used_blobs.update(sha for sha, _ in listing.values())

    def _usable(self, output: object) -> bool:
        return (
            isinstance(output, _IssueOutput)
            and self._usable_files(output.files)
            and self._usable_files(output.feed_content)
        )

    def _usable_files(self, listing: object) -> bool:
        return isinstance(listing, dict) and self.cache.has_files(listing)


def _read_sources(seeds_dir: Path, code: str) -> list[_Source]:
    """Each digest file with its cache key; the bytes are hashed and let go (parsing, when
    the cache lacks the digest, reads the file again)."""
    sources = []
    for path in find_digest_files([seeds_dir]):
        shown = path.as_posix()
        sources.append(_Source(shown, hash_parts(code, shown, path.read_bytes())))
    return sources


def _parse_all(sources: Sequence[_Source], cache: BuildCache, workers: int | None) -> list[Digest]:
    """Parse (or load from the cache) every source; all problems of all files in one error.

    Full digests go to the cache; what is kept in memory are their outlines (no bullets),
    all that the index, the feeds' metadata and the neighbour links need."""
    outlines: list[Digest | None] = [_cached_outline(cache, source.key) for source in sources]
    missing = [source for source, outline in zip(sources, outlines, strict=True) if not outline]
    parsed = iter(_run(_parse_source, missing, workers))
    digests: list[Digest] = []
    problems: list[Problem] = []
    for source, outline in zip(sources, outlines, strict=True):
        if outline is None:
            result = next(parsed)
            if isinstance(result, tuple):
                problems.extend(result)
                continue
            cache.store(source.key, result)
            outline = result.outline()
        digests.append(outline)
    problems.extend(duplicate_date_problems(digests))
    if problems:
        raise DigestError(problems)
    return digests


def _cached_outline(cache: BuildCache, key: str) -> Digest | None:
    digest = cache.load(key)
    return digest.outline() if isinstance(digest, Digest) else None


def _parse_source(source: _Source) -> Digest | tuple[Problem, ...]:
    # Problems, not the exception, cross the process boundary: they pickle as plain values.
    try:
        return parse_file(source.path)
    except DigestError as error:
        return error.problems


def _render_issue(task: _IssueTask) -> _IssueOutput:
    """Render one issue's files (email and web page) and its feed entry straight into the
    cache's blobs, so the main process holds only their names: memory stays flat however
    long the archive is."""
    cache = BuildCache(task.cache_root)
    digest = cache.load(task.digest_key)
    if not isinstance(digest, Digest):  # stored by _parse_all moments ago
        raise RuntimeError(f"the build cache lost the parsed digest {task.digest_key}")
    files: Files = {}
    files.update(mail.issue_email_files(digest, task.settings))
    files.update(
        site.issue_page_files(digest, task.previous, task.following, task.settings, task.week)
    )
    entry = feeds.issue_content_html(digest, task.settings).encode("utf-8")
    return _IssueOutput(cache.put_files(files), cache.put_files({"feed entry": entry}))


def _render_week(task: _WeekTask) -> _IssueOutput:
    """One finished week's page, email and feed entry, from its full digests (loaded from
    the cache for this week only: the build keeps outlines)."""
    cache = BuildCache(task.cache_root)
    full = []
    for key in task.digest_keys:
        digest = cache.load(key)
        if not isinstance(digest, Digest):  # stored by _parse_all
            raise RuntimeError(f"the build cache lost the parsed digest {key}")
        full.append(digest)
    rendered = weekly.render(replace(task.week, digests=tuple(full)), task.settings)
    entry = rendered.feed_content.encode("utf-8")
    files = cache.put_files({**rendered.site, **rendered.outbox})
    return _IssueOutput(files, cache.put_files({"feed entry": entry}))


def _run(
    function: Callable[[_Task], _Result], tasks: Sequence[_Task], workers: int | None
) -> Iterable[_Result]:
    """Map in a process pool when there is enough work (a cold build), else in this process."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) < _POOL_THRESHOLD:
        yield from map(function, tasks)
        return
    chunk = max(1, min(32, len(tasks) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(function, tasks, chunksize=chunk)


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


class _Stage:
    """The staging folder a build fills before it replaces the output."""

    # Plain strings, not Path objects: a warm build links thousands of files, and pathlib's
    # per-join cost was a fifth of its time.
    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.folders: set[str] = set()

    def write(self, files: Mapping[str, bytes]) -> None:
        for relative, content in sorted(files.items()):
            with open(self._target(relative), "wb") as file:
                file.write(content)

    def link(self, listing: FileList, cache: BuildCache) -> None:
        for relative, (sha, _) in sorted(listing.items()):
            link_or_copy(cache.blob_path(sha), self._target(relative))

    def _target(self, relative: str) -> str:
        target = os.path.join(self.root, relative)
        folder = os.path.dirname(target)
        if folder not in self.folders:
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        return target


@contextmanager
def staged_output(output_dir: Path) -> Iterator[_Stage]:
    """Yield a staging folder beside the output; swap it into place only if the block ends
    without an exception."""
    output_dir = output_dir.resolve()
    staging = output_dir.with_name(output_dir.name + ".partial")
    retired = output_dir.with_name(output_dir.name + ".previous")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield _Stage(staging)
        if output_dir.exists():
            output_dir.rename(retired)
        staging.rename(output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def write_atomically(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Replace the output folder with exactly `files`, all at once."""
    with staged_output(output_dir) as stage:
        stage.write(files)
