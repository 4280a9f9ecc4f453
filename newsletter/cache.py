"""A content-keyed build cache in one folder, safe to keep between CI runs (actions/cache).

It holds data, never code: `index.json` says what was parsed and rendered under which
content key, `blobs/<sha256>` hold contents (parsed digests as JSON, rendered files). What
is read back is checked before use: the index must have the expected shape, a blob must hash
to its name. Anything missing, truncated or garbled is a miss: a damaged cache costs time,
never correctness. Output folders never share storage with the cache (files are copied out,
see output.py), so editing the output cannot change the cache, nor the reverse.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeGuard

import orjson

import newsletter
from newsletter.output import write_atomically, write_file

DEFAULT_CACHE_DIR = Path(".cache/newsletter")
CACHE_DIR_ENV = "NEWSLETTER_CACHE_DIR"
_INDEX_FORMAT = 1
_HEX_DIGITS = "0123456789abcdef"

Blob = tuple[str, int]  # (sha256 of the content, its size)
FileList = dict[str, Blob]  # relative output path → blob
Record = dict[str, object]  # one index entry: JSON data, checked by whoever reads it
# How old a file's last change must be before its stat is remembered: a file changed again
# within its filesystem's timestamp tick could keep its stat (git's "racy" files).
_SETTLED_NS = 2_000_000_000


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


def file_shas(record: Path, paths: Sequence[Path]) -> list[str]:
    """The sha256 of each file's bytes. A file whose stat (size, mtime, ctime, inode, device)
    is the one remembered in `record` (a JSON file) with its sha is not read again, like
    git's index; any other file is read and hashed. ctime cannot be set back, so an edit
    that keeps the size and restores the mtime is still seen. The record is a file of its
    own, so a build that only learns new stats does not write the cache index again."""
    try:
        known = orjson.loads(record.read_bytes())
    except (OSError, ValueError):
        known = None
    remembered = known if isinstance(known, dict) else {}
    rows: dict[str, list[object]] = {}
    shas = []
    now = time.time_ns()
    for path in paths:
        name = path.as_posix()
        found = os.stat(path)
        stat = [found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino, found.st_dev]
        row = remembered.get(name)
        # Stat before read: a write in between changes the stat, so the next build reads again.
        sha = str(row[5]) if _is_file_row(row) and row[:5] == stat else _file_sha(path)
        shas.append(sha)
        if now - max(found.st_mtime_ns, found.st_ctime_ns) > _SETTLED_NS:
            rows[name] = [*stat, sha]
    if rows != remembered:
        write_atomically(record, orjson.dumps(rows))
    return shas


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_file_row(row: object) -> TypeGuard[list[object]]:
    return (
        type(row) is list
        and len(row) == 6
        and all(type(value) is int for value in row[:5])
        and type(row[5]) is str
        and len(row[5]) == 64
    )


def blob_of(content: bytes) -> Blob:
    return hashlib.sha256(content).hexdigest(), len(content)


def is_blob(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and type(value[0]) is str
        and len(value[0]) == 64
        and not value[0].strip(_HEX_DIGITS)  # only lower-case hex digits
        and type(value[1]) is int
    )


def file_list(value: object) -> FileList | None:
    """A file list read back from JSON, or None when it is not one."""
    if not isinstance(value, dict):
        return None
    listing: FileList = {}
    for relative, blob in value.items():
        if not isinstance(relative, str) or not is_blob(blob):
            return None
        listing[relative] = (blob[0], blob[1])
    return listing


class BuildCache:
    """The index in memory while a build runs (loaded once, saved once) and the blobs on
    disk. Entries the build did not use are dropped when it saves."""

    def __init__(self, root: Path, distrusted: Iterable[str] = ()) -> None:
        """`distrusted`: blobs found damaged; a record referring to one is a miss."""
        self.root = root
        self._distrusted = set(distrusted)
        self._blobs = str(root / "blobs")
        self._index_path = root / "index.json"
        self._loaded: dict[str, Record] | None = None
        self._used: dict[str, Record] = {}
        self._changed = False
        self._had_index = False  # an intact index was read (else save sweeps every blob)
        # Blobs of records this build stored: written or checked by it moments ago.
        self.fresh: set[str] = set()

    @property
    def _entries(self) -> dict[str, Record]:
        """The index, read on first use: a worker process that only reads and writes blobs
        never reads it."""
        if self._loaded is None:
            self._loaded = self._load_index()
        return self._loaded

    def get(self, key: str) -> Record | None:
        record = self._entries.get(key)
        if record is None or (
            self._distrusted and self._distrusted.intersection(_blob_names([record]))
        ):
            return None
        self._used[key] = record
        return record

    def keep(self, keys: object) -> None:
        """Keep these entries (a list of keys read back from a record), and the entries
        they keep in turn, as if this build had used them."""
        pending = list(keys) if isinstance(keys, list) else []
        while pending:
            key = pending.pop()
            record = self._entries.get(key) if isinstance(key, str) else None
            if record is None or key in self._used:
                continue
            if not self._distrusted.intersection(_blob_names([record])):
                self._used[key] = record
                inner = record.get("inner")
                pending.extend(inner if isinstance(inner, list) else [])

    def keep_tagged(self, tag: str) -> None:
        """Keep every entry stored with `tag` set to true, as if this build had used it."""
        self.keep([key for key, record in self._entries.items() if record.get(tag) is True])

    def put(self, key: str, record: Record) -> None:
        self._entries[key] = self._used[key] = record
        self._changed = True
        self.fresh.update(_blob_names([record]))

    def save(self) -> None:
        """Keep only what this build used; delete the blobs nothing refers to any more."""
        if not self._changed and len(self._used) == len(self._entries):
            return
        kept = {"format": _INDEX_FORMAT, "entries": self._used}
        write_atomically(self._index_path, orjson.dumps(kept))
        dropped = [record for key, record in self._entries.items() if key not in self._used]
        self._loaded = dict(self._used)
        self._changed = False
        referenced = set(_blob_names(self._used.values()))
        if self._had_index:
            # Only what the dropped records held can have lost its last reference: looking
            # at those, not at every blob, saves a scan of the whole store (40,000 files
            # at 5,000 digests). Blobs no record ever held (a build killed before saving)
            # are either stored again by the next build or swept after a cold start.
            for sha in set(_blob_names(dropped)) - referenced:
                Path(self.blob_path(sha)).unlink(missing_ok=True)
            return
        for folder in _entries_of(self._blobs):
            for blob in _entries_of(folder.path):
                if blob.name not in referenced:
                    Path(blob.path).unlink(missing_ok=True)

    def put_blob(self, content: bytes) -> Blob:
        blob = blob_of(content)
        if self.read_blob(blob) is None:  # absent, or damaged: write it (again)
            # In place, not through a rename: a half-written blob fails read_blob's check.
            write_file(self.blob_path(blob[0]), content)
        return blob

    def put_files(self, files: Mapping[str, bytes]) -> FileList:
        return {relative: self.put_blob(content) for relative, content in files.items()}

    def read_blob(self, blob: Blob) -> bytes | None:
        """The blob's content if it is intact (hashes to its name), else None."""
        try:
            with open(self.blob_path(blob[0]), "rb") as file:
                content = file.read()
        except OSError:
            return None
        return content if blob_of(content) == tuple(blob) else None

    def blob_path(self, sha: str) -> str:
        return f"{self._blobs}/{sha[:2]}/{sha}"  # a string: called for every output file

    def _load_index(self) -> dict[str, Record]:
        try:
            document = orjson.loads(self._index_path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("format") != _INDEX_FORMAT:
            return {}
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return {}
        self._had_index = True
        return {key: value for key, value in entries.items() if isinstance(value, dict)}


def _entries_of(folder: str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _blob_names(records: Iterable[Record]) -> Iterable[str]:
    """Every sha256 a record refers to: blobs are the only 64-hex-digit strings in the
    index, as a file list's values or a record's own fields."""
    for record in records:
        for value in record.values():
            if is_blob(value):
                assert isinstance(value, list | tuple)
                yield value[0]
            elif isinstance(value, dict):
                for blob in value.values():
                    if is_blob(blob):
                        yield blob[0]
