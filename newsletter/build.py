"""Orchestration: parse the seeds, render every output from the model, write it atomically.

Renderers are pure: each returns {relative path: bytes}. Only this module touches the output
folder, and it swaps a finished staging folder into place, so a failed build leaves the
previous output untouched.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter import feeds, mail, site
from newsletter.config import Settings
from newsletter.model import Digest
from newsletter.parse import parse_files

Files = dict[str, bytes]


@dataclass(frozen=True)
class BuildReport:
    issues: int
    files: int


def build(seeds_dir: Path, output_dir: Path, settings: Settings) -> BuildReport:
    digests = parse_files([seeds_dir])
    updated = source_times(digests, seeds_dir, settings)
    files: Files = {}
    for digest, previous, following in neighbours(digests):
        files.update(mail.issue_email_files(digest, settings))
        files.update(site.issue_page_files(digest, previous, following, settings))
    files.update(site.site_files(digests, settings))
    files.update(feeds.feed_files(digests, settings, updated))
    write_atomically(output_dir, files)
    return BuildReport(issues=len(digests), files=len(files))


def neighbours(digests: Sequence[Digest]) -> Iterator[tuple[Digest, Digest | None, Digest | None]]:
    """Each digest (oldest first) with the one before and the one after it."""
    for index, digest in enumerate(digests):
        previous = digests[index - 1] if index > 0 else None
        following = digests[index + 1] if index + 1 < len(digests) else None
        yield digest, previous, following


def published_time(digest: Digest, settings: Settings) -> dt.datetime:
    """Midnight of the digest's date in the configured time zone."""
    return dt.datetime.combine(digest.date, dt.time(0, 0), tzinfo=settings.zone)


def source_times(
    digests: Sequence[Digest], seeds_dir: Path, settings: Settings
) -> dict[dt.date, dt.datetime]:
    """When each digest last changed: its file's last commit time in a git checkout, never
    the build's wall-clock time (so a rebuild changes no byte). Outside git, or for a file
    with no commit yet, its publication time."""
    commits = _last_commit_times(seeds_dir)
    times = {}
    for digest in digests:
        published = published_time(digest, settings)
        committed = commits.get(Path(digest.source_path).name)
        times[digest.date] = max(published, committed) if committed else published
    return times


def _last_commit_times(folder: Path) -> Mapping[str, dt.datetime]:
    """{file name: time of the last commit touching it} from one `git log` call."""
    try:
        result = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "log",
                "--format=%x00%ct",
                "--name-only",
                "--relative",
                "--no-renames",
                "--",
                ".",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return {}
    times: dict[str, dt.datetime] = {}
    commit_time = None
    for line in result.stdout.splitlines():
        if line.startswith("\0"):
            commit_time = dt.datetime.fromtimestamp(int(line[1:]), dt.UTC)
        elif line and commit_time is not None:
            times.setdefault(Path(line).name, commit_time)  # newest commit comes first
    return times


def write_atomically(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write every file into a staging folder beside the output, then swap it into place."""
    output_dir = output_dir.resolve()
    staging = output_dir.with_name(output_dir.name + ".partial")
    retired = output_dir.with_name(output_dir.name + ".previous")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for relative, content in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if output_dir.exists():
            output_dir.rename(retired)
        staging.rename(output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
