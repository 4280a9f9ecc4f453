"""The benchmark's synthetic archive is made of valid digests, one per day, always the same."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from newsletter.parse import parse_files

REPO = Path(__file__).resolve().parent.parent


def load_benchmark() -> ModuleType:
    """benchmarks/run.py is a script, not part of the package: load it from its path."""
    name = "benchmark_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being created
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_synthetic_archive_holds_n_valid_digests_on_consecutive_days(tmp_path: Path) -> None:
    benchmark = load_benchmark()
    benchmark.write_synthetic_archive(tmp_path / "seeds", 20)

    digests = parse_files([tmp_path / "seeds"])

    start = benchmark.ARCHIVE_START
    assert [d.date for d in digests] == [start + dt.timedelta(days=i) for i in range(20)]


def test_synthetic_archive_cycles_through_the_real_seeds(tmp_path: Path) -> None:
    benchmark = load_benchmark()
    benchmark.write_synthetic_archive(tmp_path / "seeds", 20)
    digests = parse_files([tmp_path / "seeds"])
    seeds = len(list((REPO / "seeds").glob("*.txt")))

    assert digests[0].papers == digests[seeds].papers
    assert digests[0].papers != digests[1].papers


def test_synthetic_archive_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    benchmark = load_benchmark()
    first = benchmark.write_synthetic_archive(tmp_path / "a", 20)
    second = benchmark.write_synthetic_archive(tmp_path / "b", 20)

    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_added_and_edited_digests_still_parse(tmp_path: Path) -> None:
    benchmark = load_benchmark()
    archive = tmp_path / "seeds"
    benchmark.write_synthetic_archive(archive, 20)
    before = parse_files([archive])

    benchmark.add_next_digest(archive, 20)
    edited = benchmark.edit_one_digest(archive, 20)
    after = parse_files([archive])

    assert len(after) == 21
    assert after[-1].date == before[-1].date + dt.timedelta(days=1)
    changed = [new for old, new in zip(before, after, strict=False) if old != new]
    assert [Path(d.source_path).name for d in changed] == [edited.name]
