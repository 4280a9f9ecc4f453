"""Static search: Pagefind (https://pagefind.app) indexes of the built issue pages.

One index per `site.SearchGroup` (a past year, or a month of the newest year), kept in the
build cache under a key made of its pages' bytes: a build re-runs Pagefind only for the
groups whose pages changed and links the others from the cache. Each cached index lists its
files with their sizes, checked before use like the build cache's blobs (the output shares
their inodes): a damaged cache costs time, never correctness. The search page merges the
indexes in the browser (Pagefind's `mergeIndex`). Pagefind's output is the same bytes for
the same pages (checked by the tests), so the site stays reproducible with search.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from newsletter.cache import hash_parts, link_or_copy
from newsletter.errors import NewsletterError
from newsletter.site import SearchGroup

SEARCH_FOLDER = "pagefind"
# What the browser needs of a Pagefind bundle; its ready-made UIs (~400 KB a bundle) go.
_BUNDLE_KEEPS = ("pagefind.js", "pagefind-worker.js", "pagefind-entry.json", "index", "fragment")
_BUNDLE_KEEP_SUFFIXES = (".pf_meta", ".pagefind")  # the metadata and the WebAssembly
_PAGEFIND_SECONDS = 600
_FILES, _SIZES = "files", "sizes.json"  # a cached index: its bundle, and its files' sizes


def write_indexes(site_dir: Path, groups: Sequence[SearchGroup], cache_dir: Path) -> int:
    """Put each group's index under `site_dir/pagefind/<group>/`; returns how many had to be
    built (the rest came from `cache_dir`, which keeps only what this call used)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    version = _pagefind_version()
    used: set[str] = set()
    built = 0
    shutil.rmtree(site_dir / SEARCH_FOLDER, ignore_errors=True)  # this function's alone
    for group in groups:
        key = hash_parts(version, *_page_parts(site_dir, group.pages))
        stored = cache_dir / key
        if not _intact(stored):
            shutil.rmtree(stored, ignore_errors=True)
            _index(site_dir, group, stored)
            built += 1
        _link_tree(stored / _FILES, site_dir / SEARCH_FOLDER / group.name)
        used.add(key)
    for leftover in cache_dir.iterdir():
        if leftover.name not in used:
            shutil.rmtree(leftover, ignore_errors=True)
    return built


def _page_parts(site_dir: Path, pages: Sequence[str]) -> list[str | bytes]:
    parts: list[str | bytes] = []
    for page in pages:
        parts += [page, (site_dir / page).read_bytes()]
    return parts


def _index(site_dir: Path, group: SearchGroup, target: Path) -> None:
    """Run Pagefind over a copy of just this group's pages (hard links), so page URLs stay
    those of the site; then move the trimmed bundle into place in one rename."""
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        pages = work / "site"
        for page in group.pages:
            (pages / page).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(str(site_dir / page), str(pages / page))
        bundle = work / "bundle"
        command = [_pagefind_executable(), "--site", str(pages), "--output-path", str(bundle)]
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
        (result / _SIZES).write_text(json.dumps(_sizes(result / _FILES), sort_keys=True))
        os.replace(result, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sizes(folder: Path) -> dict[str, int]:
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file()
    }


def _intact(stored: Path) -> bool:
    """Every file listed is there with its size (a cheap check, as for the build cache)."""
    try:
        expected = json.loads((stored / _SIZES).read_text(encoding="utf-8"))
        files = stored / _FILES
        return bool(expected) and all(
            os.stat(files / name).st_size == size for name, size in expected.items()
        )
    except (OSError, ValueError, AttributeError):
        return False


def _link_tree(source: Path, target: Path) -> None:
    for folder, _, names in os.walk(source):
        inside = target / Path(folder).relative_to(source)
        inside.mkdir(parents=True, exist_ok=True)
        for name in names:
            link_or_copy(os.path.join(folder, name), str(inside / name))


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
