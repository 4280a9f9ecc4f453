"""Static search: Pagefind (https://pagefind.app) indexes of the built issue pages.

One index per `site.SearchGroup` (a past year, or a month of the newest year), kept in the
build cache under a key made of its pages' paths and hashes: a build re-runs Pagefind only
for the groups whose pages changed and reads the others from the cache. Each cached index
lists its files with their sha256, checked when read: a damaged cache costs time, never
correctness. The indexes are returned as files, which the build writes with the site's
other files (build.py), so nothing here touches the output folder. The search page merges the
indexes in the browser (Pagefind's `mergeIndex`). Pagefind's output is the same bytes for
the same pages (checked by the tests), so the site stays reproducible with search.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from newsletter.cache import hash_parts
from newsletter.errors import NewsletterError
from newsletter.site import SearchGroup

SEARCH_FOLDER = "pagefind"
# What the browser needs of a Pagefind bundle; its ready-made UIs (~400 KB a bundle) go.
_BUNDLE_KEEPS = ("pagefind.js", "pagefind-worker.js", "pagefind-entry.json", "index", "fragment")
_BUNDLE_KEEP_SUFFIXES = (".pf_meta", ".pagefind")  # the metadata and the WebAssembly
_PAGEFIND_SECONDS = 600
_FILES, _HASHES = "files", "sha256.json"  # a cached index: its bundle, its files' hashes
# What search leaves out of an issue page (templates/site/issue.html, inside its
# data-pagefind-body): the counts and weekly link, the table of contents, a paper's votes and
# arXiv link, its image or video, the "외 N명" toggle. Pagefind's selectors give the same index
# as a data-pagefind-ignore attribute on each of them, without ~600 bytes on every page.
NOT_SEARCHED = (
    ".kicker",
    ".meta",
    ".weekly-link",
    ".toc",
    ".paper-meta",
    ".media",
    ".more-authors summary",
)


def index_files(
    groups: Sequence[SearchGroup],
    page_sha: Callable[[str], str],
    page_bytes: Callable[[str], bytes],
    cache_dir: Path,
) -> dict[str, bytes]:
    """Every group's index as `pagefind/<group>/…` files. `page_sha` and `page_bytes` give
    an issue page's hash and content by its path in the site. `cache_dir` keeps only the
    indexes this call used."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    version = _pagefind_version()
    used: set[str] = set()
    files: dict[str, bytes] = {}
    for group in groups:
        key = _key(version, group, page_sha)
        stored = cache_dir / key
        bundle = _read_intact(stored)
        if bundle is None:
            shutil.rmtree(stored, ignore_errors=True)
            _index(page_bytes, group, stored)
            bundle = _read_intact(stored)
            if bundle is None:
                raise NewsletterError(f"search: the index of {group.name} changed while built")
        files.update(
            {f"{SEARCH_FOLDER}/{group.name}/{name}": data for name, data in bundle.items()}
        )
        used.add(key)
    for leftover in cache_dir.iterdir():
        if leftover.name not in used:
            shutil.rmtree(leftover, ignore_errors=True)
    return files


def stale_groups(
    groups: Sequence[SearchGroup], page_sha: Callable[[str], str], cache_dir: Path
) -> list[SearchGroup]:
    """The groups whose index is not in `cache_dir` (Pagefind will run for them)."""
    version = _pagefind_version()
    return [g for g in groups if _read_intact(cache_dir / _key(version, g, page_sha)) is None]


def _key(version: str, group: SearchGroup, page_sha: Callable[[str], str]) -> str:
    pages = (part for page in group.pages for part in (page, page_sha(page)))
    return hash_parts(version, *NOT_SEARCHED, *pages)


def _index(page_bytes: Callable[[str], bytes], group: SearchGroup, target: Path) -> None:
    """Run Pagefind over a copy of just this group's pages, at their paths in the site so
    page URLs stay those of the site; then move the trimmed bundle into place in one rename."""
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        pages = work / "site"
        for page in group.pages:
            (pages / page).parent.mkdir(parents=True, exist_ok=True)
            (pages / page).write_bytes(page_bytes(page))
        bundle = work / "bundle"
        command = [_pagefind_executable(), "--site", str(pages), "--output-path", str(bundle)]
        command += [part for selector in NOT_SEARCHED for part in ("--exclude-selectors", selector)]
        try:
            subprocess.run(
                [*command, "--silent"],
                capture_output=True,
                text=True,
                check=True,
                timeout=_PAGEFIND_SECONDS,
            )
        except subprocess.CalledProcessError as error:
            detail = (error.stderr or error.stdout or "").strip().splitlines()
            last = detail[-1] if detail else f"exit status {error.returncode}"
            raise NewsletterError(f"search: Pagefind failed on {group.name}: {last}") from None
        except subprocess.TimeoutExpired:
            raise NewsletterError(f"search: Pagefind took over {_PAGEFIND_SECONDS} s") from None
        for item in bundle.iterdir():
            if item.name not in _BUNDLE_KEEPS and not item.name.endswith(_BUNDLE_KEEP_SUFFIXES):
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        result = work / "result"
        result.mkdir()
        os.rename(bundle, result / _FILES)
        (result / _HASHES).write_text(json.dumps(_hashes(result / _FILES), sort_keys=True))
        os.replace(result, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


def _read_intact(stored: Path) -> dict[str, bytes] | None:
    """The cached bundle's files, if every file listed is there with its hash."""
    try:
        expected = json.loads((stored / _HASHES).read_text(encoding="utf-8"))
        files = {name: (stored / _FILES / name).read_bytes() for name in expected}
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if not expected or any(hashlib.sha256(files[n]).hexdigest() != h for n, h in expected.items()):
        return None
    return files


_MISSING = (
    "search: Pagefind is not installed (pip install 'pagefind[extended]'); "
    "or build without search: newsletter build --no-search"
)


def _pagefind_version() -> str:
    try:
        return metadata.version("pagefind_bin_extended")
    except metadata.PackageNotFoundError:
        raise NewsletterError(_MISSING) from None


def _pagefind_executable() -> str:
    try:
        from pagefind_bin_extended import get_executable
    except ImportError:
        raise NewsletterError(_MISSING) from None
    return str(get_executable())
