"""Build orchestration: incremental builds equal cold ones, the cache never serves stale or
damaged output, an edited or half-written output is repaired by the next build, and a failed
build leaves the previous output as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from site_pages import snapshot

from newsletter import build as build_module
from newsletter.build import build
from newsletter.config import Settings
from newsletter.errors import ConfigError, DigestError


def add_digest(
    seeds: Path, name: str, date: str, template: str = "000_ead36ab510c9cfc0.txt"
) -> Path:
    text = (seeds / template).read_text(encoding="utf-8")
    _header, rest = text.split("\n", 1)
    target = seeds / name
    target.write_text(f"## Daily Papers ({date})\n{rest}", encoding="utf-8")
    return target


def cold_build(seeds: Path, settings: Settings, scratch: Path) -> dict[str, bytes]:
    """Every file of the site and the outbox of a build with no cache and no output."""
    build(seeds, scratch / "public", settings, cache_dir=scratch / "cache")
    return both_outputs(scratch)


def both_outputs(folder: Path) -> dict[str, bytes]:
    """`public/` and `outbox/` in `folder`, as one snapshot."""
    return {
        f"{name}/{path}": content
        for name in ("public", "outbox")
        for path, content in snapshot(folder / name).items()
    }


def test_incremental_builds_match_a_cold_build(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    # Two entries a feed page, so archive pages fill, get cached and are reused.
    settings = Settings(**{**settings.__dict__, "feed_entries": 2})
    output, cache = tmp_path / "public", tmp_path / "cache"
    first = build(seeds_copy, output, settings, cache_dir=cache)
    assert (first.rendered, first.reused) == (5, 0)

    add_digest(seeds_copy, "005_new.txt", "2024-05-23")
    second = build(seeds_copy, output, settings, cache_dir=cache)
    # The new issue, and the one before it (its "next issue" link changed), are rendered.
    assert second.rendered == 2 and second.reused == 4

    edited = seeds_copy / "002_ed020bbff217edc1.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Vote: 54", "Vote: 55"))
    build(seeds_copy, output, settings, cache_dir=cache)
    (seeds_copy / "004_73ddd00b02cb327c.txt").unlink()
    build(seeds_copy, output, settings, cache_dir=cache)
    retitled = Settings(**{**settings.__dict__, "title": "다른 제목"})
    build(seeds_copy, output, retitled, cache_dir=cache)

    assert both_outputs(tmp_path) == cold_build(seeds_copy, retitled, tmp_path / "cold")


def test_a_new_digest_renders_its_neighbours_page_again_but_not_its_email(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import mail, site

    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds_copy, output, settings, cache_dir=cache)
    rendered: dict[str, list[str]] = {"page": [], "email": []}
    for kind, module, name in (
        ("page", site, "issue_page_files"),
        ("email", mail, "issue_email_files"),
    ):
        render = getattr(module, name)

        def recorded(digest: Any, *args: Any, kind: str = kind, render: Any = render) -> Any:
            rendered[kind].append(digest.slug)
            return render(digest, *args)

        monkeypatch.setattr(module, name, recorded)
    add_digest(seeds_copy, "005_new.txt", "2024-05-23")
    build(seeds_copy, output, settings, cache_dir=cache)
    # The page before links the new one; the emails link no other issue.
    assert rendered == {"page": ["2024-05-22", "2024-05-23"], "email": ["2024-05-23"]}


def test_rebuild_with_nothing_changed_renders_nothing_and_changes_no_byte(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds_copy, output, settings, cache_dir=cache)
    before = both_outputs(tmp_path)
    stats = {path: path.stat() for path in tmp_path.rglob("*") if "cache" not in path.parts}
    again = build(seeds_copy, output, settings, cache_dir=cache)
    assert again.rendered == 0 and again.reused == 5
    assert both_outputs(tmp_path) == before
    # Nothing is written again: every file keeps its inode and modification time.
    for path, stat in stats.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_a_moved_seeds_folder_or_another_spelling_of_its_path_reuses_the_cache(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    monkeypatch.chdir(tmp_path)
    build(Path("seeds"), output, settings, cache_dir=cache)
    before = both_outputs(tmp_path)
    assert build(seeds_copy.resolve(), output, settings, cache_dir=cache).rendered == 0
    moved = tmp_path / "elsewhere" / "seeds"
    shutil.move(seeds_copy, moved)
    assert build(moved, output, settings, cache_dir=cache).rendered == 0
    assert both_outputs(tmp_path) == before
    # Paths in messages are this build's, not those of the build that filled the cache.
    add_digest(moved, "010_same_day.txt", "2024-05-22")
    with pytest.raises(DigestError) as raised:
        build(moved, output, settings, cache_dir=cache)
    message = str(raised.value)
    assert f"already used by {moved.as_posix()}/" in message and str(seeds_copy) not in message


def cache_files(cache: Path) -> list[Path]:
    return sorted(path for path in cache.rglob("*") if path.is_file())


def test_the_cache_keeps_exactly_the_blobs_a_cold_build_of_the_same_digests_keeps(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    build(seeds_copy, tmp_path / "public", settings, cache_dir=cache)
    edited = seeds_copy / "002_ed020bbff217edc1.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Vote: 54", "Vote: 55"))
    add_digest(seeds_copy, "005_new.txt", "2024-05-23")
    build(seeds_copy, tmp_path / "public", settings, cache_dir=cache)
    cold_build(seeds_copy, settings, tmp_path / "cold")

    def blob_names(folder: Path) -> set[str]:
        return {path.name for path in cache_files(folder / "blobs")}

    assert blob_names(cache) == blob_names(tmp_path / "cold" / "cache")


def forty_digests(folder: Path) -> Path:
    """The benchmark's synthetic archive of 40 digests: enough for the process pool."""
    from test_benchmark_data import load_benchmark

    load_benchmark().write_synthetic_archive(folder, 40)
    return folder


@pytest.mark.parametrize("half", [0, 1])
def test_deleting_half_the_cache_costs_time_not_correctness(
    settings: Settings, tmp_path: Path, half: int
) -> None:
    # Regression: with outputs hard-linked to the cache this raised shutil.SameFileError.
    seeds = forty_digests(tmp_path / "seeds")
    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds, output, settings, cache_dir=cache, workers=2)
    for path in cache_files(cache)[half::2]:
        path.unlink()
    build(seeds, output, settings, cache_dir=cache, workers=2)
    assert both_outputs(tmp_path) == cold_build(seeds, settings, tmp_path / "cold")


@pytest.mark.parametrize("damage", ["garble", "truncate", "empty", "delete"])
def test_damaged_cache_entries_are_misses(
    seeds_copy: Path, settings: Settings, tmp_path: Path, damage: str
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    build(seeds_copy, output, settings, cache_dir=cache)
    # The output is gone too, so every cached file must be read back from the cache.
    shutil.rmtree(output)
    shutil.rmtree(tmp_path / "outbox")
    for index, path in enumerate(cache_files(cache)):
        content = path.read_bytes()
        if damage == "garble":  # same size, different bytes: only a hash notices
            path.write_bytes(bytes([content[0] ^ 1]) + content[1:] if index % 2 else content)
        elif damage == "truncate":
            path.write_bytes(content[: len(content) // 2])
        elif damage == "empty":
            path.write_bytes(b"\x80garbage" if index % 2 else b"")
        else:
            path.unlink()
    build(seeds_copy, output, settings, cache_dir=cache)
    assert both_outputs(tmp_path) == cold_build(seeds_copy, settings, tmp_path / "cold")


def test_output_edits_are_repaired_and_never_reach_the_cache(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache, outbox = tmp_path / "public", tmp_path / "cache", tmp_path / "outbox"
    build(seeds_copy, output, settings, cache_dir=cache)
    cached = {path: path.read_bytes() for path in cache_files(cache / "blobs")}
    page = output / "issues/2024-05-22/index.html"
    page.write_bytes(page.read_bytes().replace(b"<", b">"))  # same size: only content tells
    (output / "feed.xml").write_text("edited")
    (output / "index.html").unlink()
    (output / "stray.html").write_text("not built")
    (output / "issues/2024-04-04").rename(output / "issues/1999-01-01")
    shutil.rmtree(outbox / "2024-04-11")
    (outbox / "2024-05-22/email.txt").write_text("edited")
    (outbox / "2024-05-22/notes").mkdir()
    assert {path: path.read_bytes() for path in cache_files(cache / "blobs")} == cached
    build(seeds_copy, output, settings, cache_dir=cache)
    assert both_outputs(tmp_path) == cold_build(seeds_copy, settings, tmp_path / "cold")
    assert not (outbox / "2024-05-22/notes").exists()


def test_a_replaced_file_keeps_the_mode_of_a_new_one(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    """Files replaced through a temporary file (mkstemp: owner-only) must stay readable by
    a web server running as another user, like the files written new."""
    output = tmp_path / "public"
    build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    new_mode = (output / "index.html").stat().st_mode
    assert new_mode & 0o044  # group and others may read it, under the usual umask
    (output / "index.html").write_text("edited")
    build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    assert (output / "index.html").stat().st_mode == new_mode


def test_output_files_share_no_storage_with_the_cache(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    build(seeds_copy, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    cached = {(path.stat().st_dev, path.stat().st_ino) for path in cache_files(tmp_path / "cache")}
    built = [p for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts]
    assert len(built) > 20
    assert not [path for path in built if (path.stat().st_dev, path.stat().st_ino) in cached]
    assert all(path.stat().st_nlink == 1 for path in built)


def test_the_cache_holds_data_not_code(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    import json

    build(seeds_copy, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    index = json.loads((tmp_path / "cache" / "index.json").read_bytes())
    assert index["format"] == 1 and index["entries"]
    for path in cache_files(tmp_path / "cache" / "blobs"):
        assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


@pytest.mark.parametrize("other_thread", [False, True])
def test_process_pool_build_equals_serial_build(
    seeds_copy: Path,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    other_thread: bool,
) -> None:
    import multiprocessing
    import threading

    monkeypatch.setattr(build_module, "_POOL_THRESHOLD", 1)
    methods: list[str] = []
    get_context = multiprocessing.get_context

    def recorded(method: str | None = None) -> Any:
        methods.append(str(method))
        return get_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", recorded)
    pooled, serial = tmp_path / "pooled", tmp_path / "serial"
    running = threading.Event()
    if other_thread:  # a forked worker would inherit its locks: the workers start afresh
        threading.Thread(target=running.wait, args=(60,), daemon=True).start()
    try:
        build(seeds_copy, pooled / "public", settings, cache_dir=tmp_path / "c1", workers=2)
    finally:
        running.set()
    # One pool for the whole build, shared by its steps.
    assert methods == ["forkserver" if other_thread else "fork"]
    build(seeds_copy, serial / "public", settings, cache_dir=tmp_path / "c2", workers=1)
    assert both_outputs(pooled) == both_outputs(serial)


def test_failed_build_leaves_previous_output_untouched(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output = tmp_path / "public"
    build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    before = both_outputs(tmp_path)
    broken = add_digest(seeds_copy, "009_broken.txt", "2024-06-01")
    broken.write_text(broken.read_text(encoding="utf-8").replace("Vote: 55", "Votes: 55"))
    with pytest.raises(DigestError) as raised:
        build(seeds_copy, output, settings, cache_dir=tmp_path / "cache")
    assert str(raised.value).startswith(f'{broken.as_posix()}:7: expected "Vote: <number>"')
    assert both_outputs(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "outbox", "public", "seeds"]


def test_every_problem_of_every_file_is_reported_together(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    add_digest(seeds_copy, "010_same_day.txt", "2024-05-22")
    bad = seeds_copy / "003_52246dbd5c5a1e2f.txt"
    bad.write_text(bad.read_text(encoding="utf-8").replace("Vote: 50", "Vote: fifty"))
    with pytest.raises(DigestError) as raised:
        build(seeds_copy, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    messages = [str(problem) for problem in raised.value.problems]
    assert any("003_52246dbd5c5a1e2f.txt:7: the vote count" in m for m in messages)
    assert any("010_same_day.txt:1: the date 2024-05-22 is already used by" in m for m in messages)


def test_changing_a_template_rebuilds_what_uses_it(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    output, cache = tmp_path / "public", tmp_path / "cache"
    own_templates = tmp_path / "templates"
    (own_templates / "feed").mkdir(parents=True)
    entry = own_templates / "feed" / "issue.html"
    entry.write_text("<p>first wording</p>\n", encoding="utf-8")
    mine = Settings(**{**settings.__dict__, "templates_dir": str(own_templates)})
    build(seeds_copy, output, mine, cache_dir=cache)
    assert "first wording" in (output / "feed.xml").read_text(encoding="utf-8")

    entry.write_text("<p>second wording</p>\n", encoding="utf-8")
    again = build(seeds_copy, output, mine, cache_dir=cache)
    feed = (output / "feed.xml").read_text(encoding="utf-8")
    assert "second wording" in feed and "first wording" not in feed
    assert again.rendered == 5


def test_a_build_killed_at_any_write_is_repaired_by_the_next(
    seeds_copy: Path, settings: Settings, tmp_path: Path
) -> None:
    """Kill a build process after its Nth file write or removal (cache blobs, index,
    manifests, output files), for many N; the next build must equal a cold build."""
    config = Path(__file__).parent / "data" / "test-settings.toml"
    versions = {"a": tmp_path / "seeds-a", "b": tmp_path / "seeds-b"}
    shutil.copytree(seeds_copy, versions["a"])
    shutil.copytree(seeds_copy, versions["b"])
    add_digest(versions["b"], "005_new.txt", "2024-05-23")
    edited = versions["b"] / "002_ed020bbff217edc1.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Vote: 54", "Vote: 55"))
    (versions["b"] / "000_ead36ab510c9cfc0.txt").unlink()
    cold = {name: cold_build(seeds, settings, tmp_path / name) for name, seeds in versions.items()}
    work = tmp_path / "work"
    seeds, output, cache = work / "seeds", work / "public", work / "cache"
    shutil.copytree(versions["a"], seeds)
    build(seeds, output, settings, cache_dir=cache)
    killed = []
    for count, writes in enumerate([1, 2, 3, 4, 6, 9, 13, 18, 24, 31, 40, 60, 100]):
        version = "b" if count % 2 == 0 else "a"
        shutil.rmtree(seeds)
        shutil.copytree(versions[version], seeds)
        command = [sys.executable, "-m", "newsletter", "build", "--seeds", str(seeds)]
        command += ["--output", str(output), "--cache-dir", str(cache), "--config", str(config)]
        env = {**os.environ, "NEWSLETTER_TEST_KILL_AFTER_WRITES": str(writes)}
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, timeout=120)
        assert result.returncode in (0, -9), result.stderr.decode()
        if result.returncode == -9:
            killed.append(writes)
        build(seeds, output, settings, cache_dir=cache)
        assert both_outputs(work) == cold[version], f"after a kill at write {writes}"
    assert killed[:10] == [1, 2, 3, 4, 6, 9, 13, 18, 24, 31], "the builds were not killed"


@pytest.mark.parametrize("outbox", ["public", "public/outbox"])
def test_the_outbox_must_be_outside_the_site(
    seeds_copy: Path, settings: Settings, tmp_path: Path, outbox: str
) -> None:
    with pytest.raises(ConfigError, match="must be separate folders"):
        build(seeds_copy, tmp_path / "public", settings, outbox_dir=tmp_path / outbox)
    assert not (tmp_path / "public").exists()


# What a build with nothing new must not load: every renderer's library (lean start).
RENDERER_MODULES = (
    "feedgen",
    "lxml",
    "jinja2",
    "markdown_it",
    "css_inline",
    "premailer",
    "email.generator",
    "imapclient",
)
LOADED_RENDERERS = f"""
import sys
from newsletter.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print("loaded:", sorted(name for name in {RENDERER_MODULES!r} if name in sys.modules))
"""


@pytest.mark.parametrize("search", [[], ["--no-search"]])
def test_a_build_with_nothing_new_loads_no_renderer(
    seeds_copy: Path, tmp_path: Path, search: list[str]
) -> None:
    command = [sys.executable, "-c", LOADED_RENDERERS, "build", "--seeds", str(seeds_copy)]
    command += ["--cache-dir", str(tmp_path / "cache"), *search]
    for expected in ("5 rendered", "0 rendered"):
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=300
        )
        assert expected in result.stdout
    assert "loaded: []" in result.stdout


def build_with_settled_digests(
    seeds: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[Path]:
    """Build into tmp_path's public/ and cache/ once digest files count as settled (their
    stat is remembered) 0.1 s after their last change rather than 2 s, and that long has
    passed; returns the list of digest files this and later builds read. (Within a
    timestamp tick, a few ms, an edit could keep even the ctime: the 2 s guard that.)"""
    from newsletter import cache as cache_module

    monkeypatch.setattr(cache_module, "_SETTLED_NS", 10**8)
    time.sleep(0.2)
    read: list[Path] = []
    real_sha = cache_module._file_sha
    monkeypatch.setattr(cache_module, "_file_sha", lambda path: read.append(path) or real_sha(path))
    build(seeds, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    return read


def test_unchanged_digests_are_not_read_again_and_an_edit_keeping_size_and_mtime_is_seen(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = build_with_settled_digests(seeds_copy, settings, tmp_path, monkeypatch)
    output, cache = tmp_path / "public", tmp_path / "cache"
    assert len(read) == 5
    assert build(seeds_copy, output, settings, cache_dir=cache).rendered == 0
    assert len(read) == 5

    edited = seeds_copy / "002_ed020bbff217edc1.txt"
    before = edited.stat()
    edited.write_text(edited.read_text(encoding="utf-8").replace("Vote: 54", "Vote: 55"))
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))  # only ctime tells
    assert edited.stat().st_size == before.st_size
    assert edited.stat().st_mtime_ns == before.st_mtime_ns
    assert build(seeds_copy, output, settings, cache_dir=cache).rendered >= 1
    assert read[5:] == [edited]
    assert both_outputs(tmp_path) == cold_build(seeds_copy, settings, tmp_path / "cold")


def test_a_garbled_record_of_digest_stats_means_reading_every_digest(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    read = build_with_settled_digests(seeds_copy, settings, tmp_path, monkeypatch)
    output, cache = tmp_path / "public", tmp_path / "cache"
    (record,) = (cache / "sources").iterdir()
    rows = json.loads(record.read_bytes())
    assert len(rows) == 5
    record.write_text(json.dumps({name: [*row[:5], "not a sha"] for name, row in rows.items()}))
    assert build(seeds_copy, output, settings, cache_dir=cache).rendered == 0
    assert len(read) == 10
    record.write_text('{"truncated')
    assert build(seeds_copy, output, settings, cache_dir=cache).rendered == 0
    assert len(read) == 15


def test_a_build_with_nothing_new_keeps_the_archive_pages_for_the_next_new_digest(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import feeds

    settings = Settings(**{**settings.__dict__, "feed_entries": 2})
    output, cache = tmp_path / "public", tmp_path / "cache"
    add_digest(seeds_copy, "005_new.txt", "2024-05-23")
    build(seeds_copy, output, settings, cache_dir=cache)
    build(seeds_copy, output, settings, cache_dir=cache)  # all feeds from one cache entry

    rendered: list[int] = []
    real = feeds.archive_page_files

    def counted(chunk: feeds.ArchiveChunk[Any], *args: Any) -> dict[str, bytes]:
        rendered.append(chunk.number)
        return real(chunk, *args)

    monkeypatch.setattr(feeds, "archive_page_files", counted)
    add_digest(seeds_copy, "006_new.txt", "2024-05-24")  # 7 digests: still 2 archive pages
    build(seeds_copy, output, settings, cache_dir=cache)
    assert rendered == []
    assert both_outputs(tmp_path) == cold_build(seeds_copy, settings, tmp_path / "cold")


def test_a_new_digest_renders_only_its_own_year_page(
    seeds_copy: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import site

    output, cache = tmp_path / "public", tmp_path / "cache"
    add_digest(seeds_copy, "005_old.txt", "2022-05-23")
    add_digest(seeds_copy, "006_old.txt", "2023-05-23")
    build(seeds_copy, output, settings, cache_dir=cache)
    build(seeds_copy, output, settings, cache_dir=cache)

    rendered: list[int] = []
    real = site.year_page

    def counted(year: site.Year, *args: Any) -> bytes:
        rendered.append(year.year)
        return real(year, *args)

    monkeypatch.setattr(site, "year_page", counted)
    add_digest(seeds_copy, "007_new.txt", "2024-05-24")
    build(seeds_copy, output, settings, cache_dir=cache)
    assert rendered == [2024]
    add_digest(seeds_copy, "008_new.txt", "2025-01-02")  # a new year: its neighbour's links change
    build(seeds_copy, output, settings, cache_dir=cache)
    assert rendered == [2024, 2025, 2024]
    assert both_outputs(tmp_path) == cold_build(seeds_copy, settings, tmp_path / "cold")


def output_folder(root: Path) -> Path:
    """Files, nested folders, an empty folder and a symlink: what output.scan records."""
    for relative in ("index.html", "issues/2024-05-22/index.html", "feeds/archive/0001.xml"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    (root / "empty").mkdir()
    (root / "link").symlink_to("index.html")
    return root


def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children output.scanning forks from now on."""
    children: list[int] = []
    fork = os.fork

    def recorded() -> int:
        child = fork()
        if child:
            children.append(child)
        return child

    monkeypatch.setattr(os, "fork", recorded)
    return children


def test_a_scan_made_by_a_child_process_equals_one_made_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import output

    roots = [output_folder(tmp_path / "a"), output_folder(tmp_path / "b"), tmp_path / "none"]
    children = forks(monkeypatch)
    with output.scanning(roots) as scanned:
        found = scanned()
    assert len(children) == 1  # made by the child
    assert found == [output.scan(root) for root in roots]
    assert "link" in found[0][0] and "empty" in found[0][1]


def test_a_failed_scan_or_build_leaves_no_child_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import output

    root = output_folder(tmp_path / "a")
    children = forks(monkeypatch)
    with pytest.raises(ZeroDivisionError), output.scanning([root]):
        raise ZeroDivisionError  # the build fails before it asks for the scan
    # A child that fails to scan: this process scans instead.
    parent, scan = os.getpid(), output.scan

    def fails_in_the_child(folder: Path) -> output.Scan:
        if os.getpid() != parent:
            raise OSError("unreadable")
        return scan(folder)

    monkeypatch.setattr(output, "scan", fails_in_the_child)
    with output.scanning([root]) as scanned:
        assert scanned() == [scan(root)]
    assert len(children) == 2
    for child in children:
        with pytest.raises(ChildProcessError):  # reaped: no zombie left
            os.waitpid(child, os.WNOHANG)

    def no_process_to_spare() -> int:
        raise BlockingIOError("fork: Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_process_to_spare)  # the build goes on without one
    with output.scanning([root]) as scanned:
        assert scanned() == [scan(root)]
