"""Archive-scale benchmark: our `newsletter build` against Pelican and Hugo on synthetic archives.

Usage (from the repository root, with the project's venv active):

    python benchmarks/run.py                       # default sizes, Pelican up to 1,000
    python benchmarks/run.py --sizes 100 --repeat 1
    python benchmarks/run.py --profile 1000        # cProfile of one cold build

Every measurement is one child process, timed from spawn to exit (interpreter start
included); its peak memory is the child's own `ru_maxrss` as reported by `os.wait4`.
Only the standard library is used here; Pelican lives in its own venv
(`benchmarks/.venv-pelican`), created on first use; Hugo is the `hugo` on PATH (Debian
package `hugo`), skipped with a note when there is none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DEFAULT_SCRATCH = REPO / "benchmarks" / ".scratch"
PELICAN_VENV = REPO / "benchmarks" / ".venv-pelican"
# Left out of the deployed bytes compared with Pelican's: Pelican and Hugo have no search.
SEARCH_INDEX_FOLDERS = ("pagefind",)
BASE_URL = "http://127.0.0.1:8000/"
# A fixed first day, so the synthetic archive is the same bytes on every machine and run.
ARCHIVE_START = dt.date(2010, 1, 1)
CACHE_ENV = "NEWSLETTER_CACHE_DIR"

_HEADER = re.compile(r"^## Daily Papers \(\d{4}-\d{2}-\d{2}\)", re.MULTILINE)
_FIRST_BULLET = re.compile(r"^- .*$", re.MULTILINE)


# ---------------------------------------------------------------- synthetic archive


def seed_texts(seeds_dir: Path = SEEDS) -> list[str]:
    """The real digests, in file-name order, as the templates the archive cycles through."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(seeds_dir.glob("*.txt"))]
    if not texts:
        raise SystemExit(f"{seeds_dir}: no seed digests (*.txt) to build an archive from")
    return texts


def synthetic_digest(index: int, texts: Sequence[str], start: dt.date = ARCHIVE_START) -> str:
    """Digest number `index`: seed `index mod len(texts)` re-dated to `start + index` days."""
    day = start + dt.timedelta(days=index)
    text, replaced = _HEADER.subn(
        f"## Daily Papers ({day.isoformat()})", texts[index % len(texts)], 1
    )
    if replaced != 1:
        raise ValueError(f"seed {index % len(texts)} has no '## Daily Papers (date)' header")
    return text


def digest_name(index: int, start: dt.date = ARCHIVE_START) -> str:
    return f"{(start + dt.timedelta(days=index)).isoformat()}.txt"


def write_synthetic_archive(target: Path, count: int, seeds_dir: Path = SEEDS) -> list[Path]:
    """Fill an empty `target` with `count` digests, one a day from ARCHIVE_START."""
    texts = seed_texts(seeds_dir)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    paths = []
    for index in range(count):
        path = target / digest_name(index)
        path.write_text(synthetic_digest(index, texts), encoding="utf-8")
        paths.append(path)
    return paths


def add_next_digest(archive: Path, count: int) -> Path:
    """The digest of the day after the archive's last one (what a daily run adds)."""
    path = archive / digest_name(count)
    path.write_text(synthetic_digest(count, seed_texts()), encoding="utf-8")
    return path


def edit_one_digest(archive: Path, count: int) -> Path:
    """A small correction to one bullet of a digest in the middle of the archive."""
    path = archive / digest_name(count // 2)
    text = path.read_text(encoding="utf-8")
    edited = _FIRST_BULLET.sub(lambda match: match.group(0) + " (수정)", text, count=1)
    path.write_text(edited, encoding="utf-8")
    return path


# ---------------------------------------------------------------- measuring a child


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mib: float


def measure(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Measurement:
    """Run one command; wall time from spawn to exit, and the child's peak RSS.

    `os.wait4` returns the rusage of exactly this child, so measurements in one benchmark
    process do not mix (RUSAGE_CHILDREN would report the maximum over all of them).
    Linux: ru_maxrss is in KiB. It is the largest single process among the child and the
    descendants it waited for, not their sum: a process pool's total is larger.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace")[-3000:]
            raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{message}")
    return Measurement(seconds, usage.ru_maxrss / 1024)


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.exists() else 0


def folder_bytes(folder: Path, leave_out: Sequence[str] = ()) -> int:
    """Bytes of every file below `folder`, except in the top-level folders `leave_out`."""
    total = 0
    for root, folders, files in os.walk(folder):
        if Path(root) == folder:
            folders[:] = [name for name in folders if name not in leave_out]
        total += sum(os.lstat(os.path.join(root, name)).st_size for name in files)
    return total


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- our tool


@dataclass(frozen=True)
class OursRun:
    cold: Measurement
    warm: Measurement
    added: Measurement
    edited: Measurement
    files: int
    site_bytes: int  # the deployed folder after the cold build, search index left out
    cache_files: int
    added_with_search: Measurement | None  # +1 with the search index, once builds have one

    @property
    def peak_mib(self) -> float:
        return max(m.peak_mib for m in (self.cold, self.warm, self.added, self.edited))


class Ours:
    """Builds one synthetic archive with `python -m newsletter build` in a scratch folder."""

    def __init__(self, workdir: Path, python: str, css_inliner: str = "css-inline") -> None:
        self.workdir = workdir
        self.css_inliner = css_inliner
        self.seeds = workdir / "seeds"
        self.output = workdir / "public"
        self.outbox = workdir / "outbox"
        self.cache = workdir / "cache"
        self.python = python
        # The worktree's own code first; the child runs in the scratch folder, so no
        # newsletter.toml of the checkout changes what it builds. Our modules' bytecode is
        # cached, as `pip install .` compiles it: with PYTHONDONTWRITEBYTECODE set (some
        # sandboxes set it), every build compiled them from source again, 50 ms each time.
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            CACHE_ENV: str(self.cache),
        }
        self.has_search = "--no-search" in self._build_help()

    def _build_help(self) -> str:
        command = [self.python, "-m", "newsletter", "build", "--help"]
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        return result.stdout

    def command(self, *before_module: str, search: bool = False) -> list[str]:
        """The build command. Pelican and Hugo build no search index, so when our build has
        one (issue 13's `--no-search`), every row but the search row leaves it out."""
        no_search = ["--no-search"] if self.has_search and not search else []
        return [
            self.python,
            *before_module,
            "-m",
            "newsletter",
            "build",
            "--seeds",
            str(self.seeds),
            "--output",
            str(self.output),
            "--outbox",
            str(self.outbox),
            "--base-url",
            BASE_URL,
            *no_search,
        ]

    def build(self, search: bool = False) -> Measurement:
        return measure(self.command(search=search), self.workdir, self.env)

    def make_cold(self) -> None:
        """No output, no cache: also the cwd-relative `.cache/` in case a cache ignores
        NEWSLETTER_CACHE_DIR (the child's cwd is this scratch folder)."""
        for folder in (self.output, self.outbox, self.cache, self.workdir / ".cache"):
            shutil.rmtree(folder, ignore_errors=True)

    def run(self, count: int) -> OursRun:
        write_synthetic_archive(self.seeds, count)
        # The child's working folder is this one, so its newsletter.toml is what it reads.
        (self.workdir / "newsletter.toml").write_text(f'css_inliner = "{self.css_inliner}"\n')
        self.make_cold()
        cold = self.build()
        files = count_files(self.output)
        site_bytes = folder_bytes(self.output, SEARCH_INDEX_FOLDERS)
        warm = self.build()
        add_next_digest(self.seeds, count)
        added = self.build()
        edit_one_digest(self.seeds, count)
        edited = self.build()
        added_with_search = None
        if self.has_search:
            self.build(search=True)  # the index of the archive as it is, then one more day
            add_next_digest(self.seeds, count + 1)
            added_with_search = self.build(search=True)
        cache_files = count_files(self.cache) + count_files(self.workdir / ".cache")
        return OursRun(cold, warm, added, edited, files, site_bytes, cache_files, added_with_search)


# ---------------------------------------------------------------- Pelican


PELICAN_CONF = f"""\
# Written by benchmarks/run.py: a plain archive of every article plus one Atom feed.
AUTHOR = "Daily Papers"
SITENAME = "Daily Papers"
SITEURL = "{BASE_URL.rstrip("/")}"
RELATIVE_URLS = False
TIMEZONE = "Asia/Seoul"
DEFAULT_LANG = "ko"
DEFAULT_PAGINATION = False
FEED_DOMAIN = SITEURL
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_MAX_ITEMS = 30
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
ARTICLE_URL = "issues/{{slug}}/"
ARTICLE_SAVE_AS = "issues/{{slug}}/index.html"
DELETE_OUTPUT_DIRECTORY = True
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
"""


def day_and_body(digest: str) -> tuple[str, str]:
    """A digest's date (YYYY-MM-DD) and the Markdown below its `## Daily Papers` header."""
    header = _HEADER.search(digest)
    if header is None:
        raise ValueError("a digest without a '## Daily Papers (date)' header")
    return header.group(0)[-11:-1], digest[header.end() :].lstrip("\n")


def write_articles(folder: Path, count: int, article: Callable[[str], str]) -> None:
    """The synthetic archive's digests as another tool's Markdown files, one a day."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    texts = seed_texts()
    for index in range(count):
        text = article(synthetic_digest(index, texts))
        (folder / digest_name(index)).with_suffix(".md").write_text(text, encoding="utf-8")


def pelican_article(digest: str) -> str:
    """A digest as a Pelican Markdown article: Title/Date/Slug metadata, then its body."""
    day, body = day_and_body(digest)
    return f"Title: Daily Papers ({day})\nDate: {day} 00:00\nSlug: {day}\n\n{body}"


def pelican_executable() -> Path:
    """Pelican in its own venv (kept out of the project's), created on first use."""
    pelican = PELICAN_VENV / "bin" / "pelican"
    if not pelican.exists():
        progress(f"creating {PELICAN_VENV.relative_to(REPO)} with pelican and markdown …")
        subprocess.run([sys.executable, "-m", "venv", str(PELICAN_VENV)], check=True)
        pip = [str(PELICAN_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "pelican", "markdown"], check=True)
    return pelican


@dataclass(frozen=True)
class OtherRun:
    """One cold build by Pelican or Hugo."""

    cold: Measurement
    files: int
    site_bytes: int


class Pelican:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.content = workdir / "content"
        self.output = workdir / "out"
        self.env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    def prepare(self, count: int) -> None:
        write_articles(self.content, count, pelican_article)
        (self.workdir / "conf.py").write_text(PELICAN_CONF, encoding="utf-8")

    def run(self) -> OtherRun:
        for folder in (self.output, self.workdir / "cache", self.workdir / "__pycache__"):
            shutil.rmtree(folder, ignore_errors=True)
        command = [str(pelican_executable()), "content", "-o", "out", "-s", "conf.py", "-q"]
        cold = measure(command, self.workdir, self.env)
        return OtherRun(cold, count_files(self.output), folder_bytes(self.output))


# ---------------------------------------------------------------- Hugo


HUGO_CONFIG = f"""\
# Written by benchmarks/run.py: a page per digest, an index of every issue, one RSS feed.
baseURL = "{BASE_URL}"
languageCode = "ko"
title = "Daily Papers"
disableKinds = ["taxonomy", "term"]
timeZone = "Asia/Seoul"

[services.rss]
limit = 30  # like our feed_entries

[markup.goldmark.renderer]
unsafe = true  # the digests' <div><video> lines, passed through as Pelican does
"""

# Hugo ships no theme: these are the least that make every page and the feed.
HUGO_LAYOUTS = {
    "_default/baseof.html": (
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        "<title>{{ .Title }}</title>\n"
        '{{ with .OutputFormats.Get "rss" }}<link rel="alternate" type="application/rss+xml"'
        ' href="{{ .Permalink }}">{{ end }}\n'
        '</head>\n<body>\n{{ block "main" . }}{{ end }}\n</body>\n</html>\n'
    ),
    "_default/single.html": (
        '{{ define "main" }}<article>\n<h1>{{ .Title }}</h1>\n'
        '<time datetime="{{ .Date.Format "2006-01-02" }}">{{ .Date.Format "2006-01-02" }}</time>\n'
        "{{ .Content }}\n</article>{{ end }}\n"
    ),
    "_default/list.html": (
        '{{ define "main" }}<h1>{{ .Title }}</h1>\n<ul>\n{{ range .Pages }}'
        '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>\n{{ end }}</ul>{{ end }}\n'
    ),
    "index.html": (
        '{{ define "main" }}<h1>{{ .Site.Title }}</h1>\n<ul>\n{{ range .Site.RegularPages }}'
        '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>\n{{ end }}</ul>{{ end }}\n'
    ),
}


def hugo_article(digest: str) -> str:
    """A digest as a Hugo page: TOML front matter (title, date, slug), then its body."""
    day, body = day_and_body(digest)
    return (
        f'+++\ntitle = "Daily Papers ({day})"\ndate = {day}T00:00:00+09:00\n'
        f'slug = "{day}"\n+++\n\n{body}'
    )


class Hugo:
    """`hugo` building the same digests as `content/issues/<date>.md`, saved as
    `issues/<date>/index.html` like ours, plus the home page listing every issue and RSS."""

    def __init__(self, workdir: Path, executable: str) -> None:
        self.workdir = workdir
        self.executable = executable
        self.content = workdir / "content" / "issues"
        self.output = workdir / "out"

    def prepare(self, count: int) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        write_articles(self.content, count, hugo_article)
        (self.workdir / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
        for name, text in HUGO_LAYOUTS.items():
            path = self.workdir / "layouts" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def run(self) -> OtherRun:
        for folder in (self.output, self.workdir / "resources"):
            shutil.rmtree(folder, ignore_errors=True)
        command = [self.executable, "--quiet", "--destination", "out", "--ignoreCache"]
        cold = measure(command, self.workdir, dict(os.environ))
        return OtherRun(cold, count_files(self.output), folder_bytes(self.output))


# ---------------------------------------------------------------- the report


def fastest(runs: Sequence[Measurement]) -> Measurement:
    """The quickest of repeated runs (and its peak memory): on a shared machine the
    minimum is the time least inflated by other work."""
    return min(runs, key=lambda m: m.seconds)


def seconds(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class Row:
    count: int
    ours: Sequence[OursRun]
    pelican: Sequence[OtherRun]
    hugo: Sequence[OtherRun]

    def ours_best(self, pick: Callable[[OursRun], Measurement]) -> Measurement:
        return fastest([pick(run) for run in self.ours])

    def cells(self) -> list[str]:
        cold = self.ours_best(lambda run: run.cold)
        cells = [
            f"{self.count:,}",
            seconds(cold.seconds),
            seconds(self.ours_best(lambda run: run.warm).seconds),
            seconds(self.ours_best(lambda run: run.added).seconds),
            seconds(self.ours_best(lambda run: run.edited).seconds),
            f"{max(run.peak_mib for run in self.ours):.0f}",
            f"{self.ours[-1].files:,}",
            f"{self.ours[-1].site_bytes / 2**20:.1f}",
        ]
        for others in (self.pelican, self.hugo):
            if not others:
                cells += ["—", "—", "—", "—"]
                continue
            other = fastest([run.cold for run in others])
            cells += [
                seconds(other.seconds),
                f"{others[-1].files:,}",
                f"{others[-1].site_bytes / 2**20:.1f}",
                f"{cold.seconds / other.seconds:.2f}",
            ]
        return cells


COLUMNS = [
    "digests",
    "ours cold s",
    "nothing new s",
    "+1 new s",
    "+1 edited s",
    "ours peak MiB",
    "ours site files",
    "ours site MiB",
    "Pelican cold s",
    "Pelican files",
    "Pelican MiB",
    "cold ours/Pelican",
    "Hugo cold s",
    "Hugo files",
    "Hugo MiB",
    "cold ours/Hugo",
]


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    label: str
    limit: float
    unit: str  # "×", "s" or "MiB"
    value: Callable[[Mapping[int, Row]], float | None]
    needs_search: bool = False


def _cold_ratio(row: Row | None, others: Callable[[Row], Sequence[OtherRun]]) -> float | None:
    if row is None or not others(row):
        return None
    theirs = fastest([run.cold for run in others(row)])
    return row.ours_best(lambda run: run.cold).seconds / theirs.seconds


def _bytes_ratio(row: Row | None) -> float | None:
    if row is None or not row.pelican:
        return None
    return row.ours[-1].site_bytes / row.pelican[-1].site_bytes


def _seconds(row: Row | None, pick: Callable[[OursRun], Measurement | None]) -> float | None:
    if row is None:
        return None
    picked = [m for m in (pick(run) for run in row.ours) if m is not None]
    return fastest(picked).seconds if picked else None


def _peak(row: Row | None) -> float | None:
    return max(run.peak_mib for run in row.ours) if row else None


# Issue 9's targets, in its words; each needs the size it names in --sizes.
TARGETS = [
    Target(
        "cold build, 1,000 digests, ÷ Pelican's",
        0.6,
        "×",
        lambda rows: _cold_ratio(rows.get(1000), lambda row: row.pelican),
    ),
    Target(
        "+1 digest at 1,000", 0.4, "s", lambda rows: _seconds(rows.get(1000), lambda r: r.added)
    ),
    Target(
        "+1 digest at 1,000 with the search index",
        1.0,
        "s",
        lambda rows: _seconds(rows.get(1000), lambda run: run.added_with_search),
        needs_search=True,
    ),
    Target(
        "deployed public/ bytes ÷ Pelican's output (no search index)",
        2.0,
        "×",
        lambda rows: _bytes_ratio(rows.get(1000)),
    ),
    Target(
        "build with nothing new, 5,000 digests",
        2.0,
        "s",
        lambda rows: _seconds(rows.get(5000), lambda run: run.warm),
    ),
    Target(
        "+1 digest at 5,000", 2.0, "s", lambda rows: _seconds(rows.get(5000), lambda r: r.added)
    ),
    # The "151 MB" was this script's MiB column: the limit is in the same unit.
    Target("peak memory, 5,000 digests", 300, "MiB", lambda rows: _peak(rows.get(5000))),
    Target(
        "(aim) cold build, 1,000 digests, ÷ Hugo's",
        4.0,
        "×",
        lambda rows: _cold_ratio(rows.get(1000), lambda row: row.hugo),
    ),
]


def targets_table(rows: Sequence[Row], has_search: bool) -> str:
    by_size = {row.count: row for row in rows}
    lines = ["| target | measured | limit | met |", "|---|---:|---:|:---:|"]
    for target in TARGETS:
        value = target.value(by_size)
        if value is None:
            why = "no search index yet" if target.needs_search and not has_search else "—"
            lines.append(f"| {target.label} | {why} | ≤ {target.limit:g} {target.unit} | — |")
            continue
        shown = (
            f"{value:.0f} {target.unit}" if target.unit == "MiB" else f"{value:.2f} {target.unit}"
        )
        met = "yes" if value <= target.limit else "**no**"
        lines.append(f"| {target.label} | {shown} | ≤ {target.limit:g} {target.unit} | {met} |")
    return "\n".join(lines)


def environment_line(python: str) -> str:
    """Which code ran where: numbers from different commits or machines do not compare."""

    def output(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    commit = output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD") or "?"
    if output("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"):
        commit += " + local changes"
    version = output(python, "-c", "import sys; print(sys.version.split()[0])")
    return (
        f"commit {commit} · Python {version} · {platform.system()} {platform.machine()}"
        f" · {os.cpu_count()} CPUs"
    )


def load_average() -> str:
    """Other work on the machine inflates every time; the 1-minute load shows how much."""
    return f"{os.getloadavg()[0]:.1f}"


# ---------------------------------------------------------------- command line


def benchmark(options: argparse.Namespace) -> None:
    scratch: Path = options.scratch.resolve()
    environment, load_before = environment_line(options.python), load_average()
    hugo = None if options.skip_hugo else shutil.which("hugo")
    if not options.skip_hugo and hugo is None:
        progress("note: no `hugo` on PATH (Debian package hugo): Hugo columns left empty")
    rows = []
    loads = [load_before]
    has_search = False
    for count in options.sizes:
        others = count <= options.pelican_max
        ours = Ours(scratch / str(count) / "ours", options.python, options.css_inliner)
        has_search = ours.has_search
        pelican_site = Pelican(scratch / str(count) / "pelican")
        hugo_site = Hugo(scratch / str(count) / "hugo", hugo) if hugo else None
        with_pelican = others and not options.skip_pelican
        if with_pelican:
            pelican_site.prepare(count)
        if others and hugo_site:
            hugo_site.prepare(count)
        runs, pelican, hugo_runs = [], [], []
        for attempt in range(1, options.repeat + 1):
            label = f"{count:,} digests, run {attempt}/{options.repeat}"
            progress(f"{label}: ours … (load {load_average()})")
            runs.append(ours.run(count))
            if with_pelican:
                progress(f"{label}: Pelican …")
                pelican.append(pelican_site.run())
            if others and hugo_site:
                progress(f"{label}: Hugo …")
                hugo_runs.append(hugo_site.run())
            loads.append(load_average())
        if runs[-1].cache_files == 0:
            progress(f"note: {CACHE_ENV} stayed empty: this build has no cache yet")
        rows.append(Row(count, runs, pelican, hugo_runs))
    print(
        f"{environment} · css_inliner {options.css_inliner} · fastest of {options.repeat}"
        f" · load average (1 min) {' → '.join(loads)}, {load_average()} at the end"
    )
    print()
    print(markdown_table(rows))
    if options.sizes and max(options.sizes) > options.pelican_max:
        print(f"\nPelican and Hugo skipped above {options.pelican_max:,} digests (--pelican-max).")
    print()
    print(targets_table(rows, has_search))


def profile(options: argparse.Namespace) -> None:
    """One cold build under cProfile; prints the functions with the most cumulative time."""
    count: int = options.profile
    ours = Ours(options.scratch.resolve() / f"profile-{count}", options.python)
    write_synthetic_archive(ours.seeds, count)
    ours.make_cold()
    stats_file = ours.workdir / "build.prof"
    result = measure(ours.command("-m", "cProfile", "-o", str(stats_file)), ours.workdir, ours.env)
    print(f"cold build of {count:,} digests under cProfile: {result.seconds:.2f} s")
    stats = pstats.Stats(str(stats_file))
    stats.strip_dirs().sort_stats("cumulative").print_stats(options.top)


def size_list(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be numbers like 100,1000: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be 1 or more")
    return sizes


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--sizes", type=size_list, default=[100, 1000, 5000])
    arguments.add_argument(
        "--repeat", type=int, default=1, help="runs per size; the fastest counts"
    )
    arguments.add_argument("--skip-pelican", action="store_true")
    arguments.add_argument("--skip-hugo", action="store_true")
    arguments.add_argument(
        "--pelican-max",
        type=int,
        default=1000,
        help="no Pelican or Hugo run above this many digests",
    )
    arguments.add_argument("--scratch", type=Path, default=DEFAULT_SCRATCH)
    arguments.add_argument(
        "--css-inliner",
        choices=["premailer", "css-inline"],
        default="css-inline",
        help="the css_inliner setting our builds use",
    )
    arguments.add_argument(
        "--python", default=sys.executable, help="interpreter with the newsletter installed"
    )
    arguments.add_argument(
        "--profile", type=int, metavar="N", help="instead: cProfile one cold build of N digests"
    )
    arguments.add_argument("--top", type=int, default=25, help="functions --profile lists")
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    options = parser().parse_args(argv)
    if options.repeat < 1:
        raise SystemExit("--repeat must be 1 or more")
    if options.profile:
        profile(options)
    else:
        benchmark(options)


if __name__ == "__main__":
    main()
