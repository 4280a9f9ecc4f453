"""Archive-scale benchmark: our `newsletter build` against Pelican on synthetic archives.

Usage (from the repository root, with the project's venv active):

    python benchmarks/run.py                       # default sizes, Pelican up to 1,000
    python benchmarks/run.py --sizes 100 --repeat 1
    python benchmarks/run.py --profile 1000        # cProfile of one cold build

Every measurement is one child process, timed from spawn to exit (interpreter start
included); its peak memory is the child's own `ru_maxrss` as reported by `os.wait4`.
Only the standard library is used here; Pelican lives in its own venv
(`benchmarks/.venv-pelican`), created on first use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import pstats
import re
import shutil
import statistics
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
    cache_files: int

    @property
    def peak_mib(self) -> float:
        return max(m.peak_mib for m in (self.cold, self.warm, self.added, self.edited))


class Ours:
    """Builds one synthetic archive with `python -m newsletter build` in a scratch folder."""

    def __init__(
        self, workdir: Path, python: str, css_inliner: str = "premailer", search: bool = True
    ) -> None:
        self.workdir = workdir
        self.css_inliner = css_inliner
        self.search = search
        self.seeds = workdir / "seeds"
        self.output = workdir / "public"
        self.cache = workdir / "cache"
        self.python = python
        # The worktree's own code first; the child runs in the scratch folder, so no
        # newsletter.toml of the checkout changes what it builds.
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            CACHE_ENV: str(self.cache),
        }

    def command(self, *before_module: str) -> list[str]:
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
            "--base-url",
            BASE_URL,
            *([] if self.search else ["--no-search"]),
        ]

    def build(self) -> Measurement:
        return measure(self.command(), self.workdir, self.env)

    def make_cold(self) -> None:
        """No output, no cache: also the cwd-relative `.cache/` in case a cache ignores
        NEWSLETTER_CACHE_DIR (the child's cwd is this scratch folder)."""
        for folder in (self.output, self.cache, self.workdir / ".cache"):
            shutil.rmtree(folder, ignore_errors=True)

    def run(self, count: int) -> OursRun:
        write_synthetic_archive(self.seeds, count)
        # The child's working folder is this one, so its newsletter.toml is what it reads.
        (self.workdir / "newsletter.toml").write_text(f'css_inliner = "{self.css_inliner}"\n')
        self.make_cold()
        cold = self.build()
        files = count_files(self.output)
        warm = self.build()
        add_next_digest(self.seeds, count)
        added = self.build()
        edit_one_digest(self.seeds, count)
        edited = self.build()
        cache_files = count_files(self.cache) + count_files(self.workdir / ".cache")
        return OursRun(cold, warm, added, edited, files, cache_files)


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


def pelican_article(digest: str) -> str:
    """A digest as a Pelican Markdown article: Title/Date/Slug metadata, then its body."""
    header = _HEADER.search(digest)
    if header is None:
        raise ValueError("a digest without a '## Daily Papers (date)' header")
    day = header.group(0)[-11:-1]
    body = digest[header.end() :].lstrip("\n")
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
class PelicanRun:
    cold: Measurement
    files: int


class Pelican:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.content = workdir / "content"
        self.output = workdir / "out"
        self.env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    def prepare(self, count: int) -> None:
        shutil.rmtree(self.content, ignore_errors=True)
        self.content.mkdir(parents=True)
        texts = seed_texts()
        for index in range(count):
            article = pelican_article(synthetic_digest(index, texts))
            (self.content / digest_name(index)).with_suffix(".md").write_text(
                article, encoding="utf-8"
            )
        (self.workdir / "conf.py").write_text(PELICAN_CONF, encoding="utf-8")

    def run(self) -> PelicanRun:
        for folder in (self.output, self.workdir / "cache", self.workdir / "__pycache__"):
            shutil.rmtree(folder, ignore_errors=True)
        command = [str(pelican_executable()), "content", "-o", "out", "-s", "conf.py", "-q"]
        cold = measure(command, self.workdir, self.env)
        return PelicanRun(cold, count_files(self.output))


# ---------------------------------------------------------------- the report


def median_measurement(runs: Sequence[Measurement]) -> Measurement:
    return Measurement(
        statistics.median(m.seconds for m in runs), statistics.median(m.peak_mib for m in runs)
    )


def seconds(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class Row:
    count: int
    ours: Sequence[OursRun]
    pelican: Sequence[PelicanRun]

    def cells(self) -> list[str]:
        def ours(pick: Callable[[OursRun], Measurement]) -> Measurement:
            return median_measurement([pick(run) for run in self.ours])

        cold = ours(lambda run: run.cold)
        cells = [
            f"{self.count:,}",
            seconds(cold.seconds),
            seconds(ours(lambda run: run.warm).seconds),
            seconds(ours(lambda run: run.added).seconds),
            seconds(ours(lambda run: run.edited).seconds),
            f"{max(run.peak_mib for run in self.ours):.0f}",
            f"{self.ours[-1].files:,}",
        ]
        if not self.pelican:
            return [*cells, "—", "—", "—", "—"]
        pelican = median_measurement([run.cold for run in self.pelican])
        return [
            *cells,
            seconds(pelican.seconds),
            f"{pelican.peak_mib:.0f}",
            f"{self.pelican[-1].files:,}",
            f"{cold.seconds / pelican.seconds:.2f}",
        ]


COLUMNS = [
    "digests",
    "ours cold s",
    "warm s",
    "+1 new s",
    "+1 edited s",
    "ours peak MiB",
    "ours files",
    "Pelican cold s",
    "Pelican peak MiB",
    "Pelican files",
    "cold ours/Pelican",
]


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
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
    rows = []
    for count in options.sizes:
        with_pelican = not options.skip_pelican and count <= options.pelican_max
        ours = Ours(
            scratch / str(count) / "ours", options.python, options.css_inliner, options.search
        )
        pelican: list[PelicanRun] = []
        pelican_site = Pelican(scratch / str(count) / "pelican")
        if with_pelican:
            pelican_site.prepare(count)
        runs = []
        for attempt in range(1, options.repeat + 1):
            progress(f"{count:,} digests, run {attempt}/{options.repeat}: ours …")
            runs.append(ours.run(count))
            if with_pelican:
                progress(f"{count:,} digests, run {attempt}/{options.repeat}: Pelican …")
                pelican.append(pelican_site.run())
        if runs[-1].cache_files == 0:
            progress(f"note: {CACHE_ENV} stayed empty: this build has no cache yet")
        rows.append(Row(count, runs, pelican))
    print(
        f"{environment} · css_inliner {options.css_inliner}"
        f" · load average {load_before} before, {load_average()} after"
    )
    print()
    print(markdown_table(rows))
    if options.sizes and not options.skip_pelican and max(options.sizes) > options.pelican_max:
        print(f"\nPelican skipped above {options.pelican_max:,} digests (--pelican-max).")


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
    arguments.add_argument("--repeat", type=int, default=1, help="runs per size; the median")
    arguments.add_argument("--skip-pelican", action="store_true")
    arguments.add_argument(
        "--pelican-max", type=int, default=1000, help="no Pelican run above this many digests"
    )
    arguments.add_argument("--scratch", type=Path, default=DEFAULT_SCRATCH)
    arguments.add_argument(
        "--css-inliner",
        choices=["premailer", "css-inline"],
        default="premailer",
        help="the css_inliner setting our builds use",
    )
    arguments.add_argument(
        "--no-search",
        dest="search",
        action="store_false",
        help="build without the Pagefind search indexes (newsletter build --no-search)",
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
