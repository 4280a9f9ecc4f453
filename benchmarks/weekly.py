"""What the weekly edition costs a build: a +1 build whose digest finishes a week (one
edition rendered, its daily pages linked to it) against a +1 build in mid-week.

Usage (from the repository root, with the project's venv active):

    python benchmarks/weekly.py                 # about 1,000 digests
    python benchmarks/weekly.py --size 5000

Every build is one child process, measured as in benchmarks/run.py (whose synthetic archive
and measuring this reuses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # benchmarks/ is not a package: run.py is found by the path above


def digests_ending_on_a_sunday(at_least: int) -> int:
    """The smallest archive size from `at_least` whose newest digest is a Sunday."""
    count = at_least
    while (bench.ARCHIVE_START + dt.timedelta(days=count - 1)).isoweekday() != 7:
        count += 1
    return count


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--size", type=int, default=1000, help="digests, about")
    arguments.add_argument("--scratch", type=Path, default=bench.DEFAULT_SCRATCH / "weekly")
    options = arguments.parse_args()
    ours = bench.Ours(options.scratch.resolve(), sys.executable)
    count = digests_ending_on_a_sunday(options.size)
    bench.write_synthetic_archive(ours.seeds, count)
    (ours.workdir / "newsletter.toml").write_text('css_inliner = "premailer"\n')
    ours.make_cold()
    cold, warm = ours.build(), ours.build()
    bench.add_next_digest(ours.seeds, count)  # a Monday: finishes the week before
    finishing = ours.build()
    bench.add_next_digest(ours.seeds, count + 1)  # a Tuesday: finishes nothing
    mid_week = ours.build()
    runs = {"cold": cold, "warm": warm, "+1 finishing a week": finishing, "+1 mid-week": mid_week}
    editions = len(list((ours.output / "weekly").glob("*/index.html")))
    load = bench.load_average()
    print(f"{count:,} digests (+2), {editions} weekly editions, load average {load}")
    for name, measured in runs.items():
        print(f"{name}: {measured.seconds:.2f} s, peak {measured.peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
