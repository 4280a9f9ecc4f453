"""Static search: Pagefind (https://pagefind.app) indexes of the built issue pages.

One index per `site.SearchGroup` (a past year, or a month of the newest year), kept in the
build cache like any rendered file, under a key made of its pages' paths and hashes
(`group_key`): a build re-runs Pagefind only for the groups whose pages changed; the other
groups' files stay in the output untouched, never read again (build.py). Nothing here
touches the output folder. The search page merges the
indexes in the browser (Pagefind's `mergeIndex`). Pagefind's output is the same bytes for
the same pages (checked by the tests), so the site stays reproducible with search.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.cache import hash_parts
from newsletter.errors import NewsletterError
from newsletter.site import SearchGroup

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

SEARCH_FOLDER = "pagefind"
# What the browser needs of a Pagefind bundle; its ready-made UIs (~400 KB a bundle) go.
_BUNDLE_KEEPS = ("pagefind.js", "pagefind-worker.js", "pagefind-entry.json", "index", "fragment")
_BUNDLE_KEEP_SUFFIXES = (".pf_meta", ".pagefind")  # the metadata and the WebAssembly
_PAGEFIND_SECONDS = 600
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


def group_key(group: SearchGroup, page_sha: Callable[[str], str]) -> str:
    """What a group's index is made from: Pagefind's version, what it leaves out, and each
    page's path and hash (`page_sha` gives an issue page's hash by its path in the site)."""
    pages = (part for page in group.pages for part in (page, page_sha(page)))
    return hash_parts("search", _pagefind_version(), *NOT_SEARCHED, *pages)


def group_index(
    group: SearchGroup, page_bytes: Callable[[str], bytes], pool: Executor
) -> Future[dict[str, bytes]]:
    """The group's index as `pagefind/<group>/…` files: Pagefind run, in `pool`, over a
    copy of just this group's pages at their paths in the site, so that page URLs stay
    those of the site. The pages are written here first: a thread waiting for the GIL
    while the build renders took up to 0.2 s to write a month's pages."""
    work = Path(tempfile.mkdtemp(prefix="newsletter-search-"))
    try:
        for page in group.pages:
            (work / "site" / page).parent.mkdir(parents=True, exist_ok=True)
            (work / "site" / page).write_bytes(page_bytes(page))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return pool.submit(_indexed, work, group)


def _indexed(work: Path, group: SearchGroup) -> dict[str, bytes]:
    try:
        bundle = work / "bundle"
        _run_pagefind(work / "site", bundle, group)
        return {
            f"{SEARCH_FOLDER}/{group.name}/{path.relative_to(bundle).as_posix()}": path.read_bytes()
            for path in sorted(bundle.rglob("*"))
            if path.is_file() and _kept(path.relative_to(bundle).parts[0])
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kept(name: str) -> bool:
    return name in _BUNDLE_KEEPS or name.endswith(_BUNDLE_KEEP_SUFFIXES)


def _run_pagefind(pages: Path, bundle: Path, group: SearchGroup) -> None:
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


_MISSING = (
    "search: Pagefind is not installed (pip install 'pagefind[extended]'); "
    "or build without search: newsletter build --no-search"
)


@cache  # one lookup a build, not one per group: each scans every installed package
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
