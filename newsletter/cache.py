"""A content-keyed build cache in one folder, safe to keep between CI runs (actions/cache).

`entries/<key>` hold pickled values (parsed digests, file lists); `blobs/<sha256>` hold output
file contents, linked into the output folder. Every write is atomic (temp file + os.replace),
and anything unreadable counts as a miss: a missing or corrupt cache costs time, never
correctness.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import newsletter

DEFAULT_CACHE_DIR = Path(".cache/newsletter")
CACHE_DIR_ENV = "NEWSLETTER_CACHE_DIR"

FileList = dict[str, tuple[str, int]]  # output path → (blob sha256, size)


def hash_parts(*parts: str | bytes) -> str:
    """A key for the given inputs; parts are length-prefixed so they cannot run together."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def files_fingerprint(folders: Iterable[Path], pattern: str = "*") -> str:
    """Every matching file's path (within its folder) and bytes, folders in order."""
    parts: list[str | bytes] = []
    for folder in folders:
        for path in sorted(folder.rglob(pattern)):
            if path.is_file():
                parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return hash_parts(*parts)


def code_fingerprint() -> str:
    """The tool's own source, so any change to the code invalidates what it rendered."""
    return files_fingerprint([Path(newsletter.__file__).parent], "*.py")


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries = root / "entries"
        self.blobs = root / "blobs"
        self._blobs = str(self.blobs)

    def load(self, key: str) -> object | None:
        try:
            with (self.entries / key[:2] / key).open("rb") as file:
                value: object = pickle.load(file)
                return value
        except Exception:  # any unreadable entry is a miss
            return None

    def store(self, key: str, value: object) -> None:
        _write_atomically(self.entries / key[:2] / key, pickle.dumps(value, protocol=5))

    def put_files(self, files: dict[str, bytes]) -> FileList:
        """Store file contents as blobs; returns what is needed to link them again."""
        listing: FileList = {}
        for relative, content in files.items():
            sha = hashlib.sha256(content).hexdigest()
            if not self.has_files({relative: (sha, len(content))}):
                _write_atomically(Path(self.blob_path(sha)), content)
            listing[relative] = (sha, len(content))
        return listing

    def prune(self, used_keys: set[str], used_blobs: set[str]) -> None:
        """Drop what this build did not use, so the cache does not grow without bound."""
        for folder, used in ((self.entries, used_keys), (self.blobs, used_blobs)):
            for path in folder.glob("*/*"):
                if path.name not in used:
                    path.unlink(missing_ok=True)

    def blob_path(self, sha: str) -> str:
        return f"{self._blobs}/{sha[:2]}/{sha}"  # a string: called for every output file

    def has_files(self, listing: FileList) -> bool:
        """Every blob is present with its size (a cheap check against a damaged cache)."""
        for sha, size in listing.values():
            try:
                if os.stat(self.blob_path(sha)).st_size != size:
                    return False
            except OSError:
                return False
        return True


def link_or_copy(source: str, target: str) -> None:
    """Hard-link a cached blob into the output (fast, no extra disk); copy across devices."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
