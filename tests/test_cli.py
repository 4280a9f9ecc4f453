"""The `check` and `parse` commands as a user runs them: output, exit codes, JSON."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app

MALFORMED = Path(__file__).parent / "data" / "malformed"
runner = CliRunner()


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m newsletter …` in a fresh interpreter, as a user would type it."""
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
        check=False,
    )


def test_help_lists_the_commands_for_python_dash_m(tmp_path: Path) -> None:
    result = run_module("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("check", "parse", "build"):
        assert command in result.stdout


def test_installed_newsletter_command_lists_the_same_commands(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("newsletter")
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    result = subprocess.run(
        [script, "--help"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout == run_module("--help", cwd=tmp_path).stdout


def test_check_summarises_each_seed_oldest_first(seeds_copy: Path) -> None:
    result = run_module("check", cwd=seeds_copy.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "seeds/003_52246dbd5c5a1e2f.txt: 2024-02-22 · 12 papers · 154 votes",
        "seeds/001_747b4ef4e477ff6c.txt: 2024-04-04 · 8 papers · 162 votes",
        "seeds/004_73ddd00b02cb327c.txt: 2024-04-11 · 7 papers · 105 votes",
        "seeds/002_ed020bbff217edc1.txt: 2024-04-16 · 12 papers · 195 votes",
        "seeds/000_ead36ab510c9cfc0.txt: 2024-05-22 · 6 papers · 95 votes",
    ]


def test_check_reports_every_problem_of_every_file_and_exits_1(tmp_path: Path) -> None:
    names = ["several-problems.txt", "votes-plural.txt", "not-utf8.txt"]
    for name in names:
        shutil.copy(MALFORMED / name, tmp_path / name)
    result = runner.invoke(app, ["check", *(str(tmp_path / name) for name in names)])
    assert result.exit_code == 1
    assert result.stdout == ""
    reported = [line.removeprefix(tmp_path.as_posix() + "/") for line in result.stderr.splitlines()]
    assert reported == [
        'several-problems.txt:7: the vote count must be a whole number 0 or more, found "1.5"',
        'several-problems.txt:14: "Second" has no "Authors: …" line',
        "several-problems.txt:23: a paper heading must be a link "
        '"### [title](https://…)", found "Third without link"',
        'votes-plural.txt:7: expected "Vote: <number>", found "Votes: 12"',
        "not-utf8.txt:9: the file is not UTF-8 text (byte 0xe9); save it as UTF-8",
    ]


def test_check_reports_two_digests_of_one_day(seeds_copy: Path) -> None:
    shutil.copy(next(seeds_copy.glob("000_*.txt")), seeds_copy / "zzz_copy.txt")
    result = runner.invoke(app, ["check", str(seeds_copy)])
    assert result.exit_code == 1
    assert "zzz_copy.txt:1: the date 2024-05-22 is already used by" in result.stderr


def test_check_counts_a_file_named_twice_once(seeds_dir: Path) -> None:
    path = next(seeds_dir.glob("000_*.txt"))
    result = runner.invoke(app, ["check", str(path), str(seeds_dir)])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5


def test_check_of_a_folder_without_digests_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert "no digest files" in result.stderr


def test_check_without_a_seeds_folder_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "seeds: no such folder of digests" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["parse"], id="parse-without-file"),
        pytest.param(["parse", "seeds/000_ead36ab510c9cfc0.txt", "--yaml"], id="unknown-option"),
        pytest.param(["frobnicate"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeds_copy.parent)
    assert runner.invoke(app, args).exit_code == 2


def test_parse_json_is_valid_and_in_model_order(seeds_dir: Path) -> None:
    path = next(seeds_dir.glob("003_*.txt"))
    result = runner.invoke(app, ["parse", str(path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["date", "source_path", "papers"]
    assert list(data["papers"][0]) == [
        "title",
        "link",
        "arxiv_id",
        "thumbnail_url",
        "video_url",
        "votes",
        "authors",
        "authors_truncated",
        "bullets",
        "line",
    ]
    video = data["papers"][1]
    assert (video["title"], video["thumbnail_url"], video["authors_truncated"]) == (
        "Aria Everyday Activities Dataset",
        None,
        True,
    )
    assert video["video_url"].endswith("/E0VdLERPAj7O_nwHJzKdi.mp4")
    assert "본 논문에서는" in result.stdout  # Korean stays readable, not \\u-escaped


def test_parse_json_is_byte_identical_in_another_process(
    seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "seeds/002_ed020bbff217edc1.txt"
    in_subprocess = run_module("parse", path, "--json", cwd=seeds_copy.parent)
    assert in_subprocess.returncode == 0
    monkeypatch.chdir(seeds_copy.parent)
    in_process = runner.invoke(app, ["parse", path, "--json"])
    assert in_subprocess.stdout == in_process.stdout


def test_parse_without_json_lists_votes_and_titles(seeds_dir: Path) -> None:
    result = runner.invoke(app, ["parse", str(next(seeds_dir.glob("000_*.txt")))])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "2024-05-22: 6 papers, 95 votes"
    assert lines[1] == "    55  Your Transformer is Secretly Linear"


def test_parse_of_a_bad_digest_prints_its_problems_and_exits_1() -> None:
    result = runner.invoke(app, ["parse", str(MALFORMED / "date-does-not-exist.txt")])
    assert result.exit_code == 1
    assert result.stderr.endswith(
        'date-does-not-exist.txt:1: the date "2024-02-30" does not exist\n'
    )


ONE_PAPER = """## Daily Papers (2024-05-22)

### [A lone paper](https://arxiv.org/abs/2405.12250)

Vote: 1

Authors: First Author

- Its one summary bullet.
"""


def test_one_paper_one_vote_and_one_issue_are_singular(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one.txt").write_text(ONE_PAPER, encoding="utf-8")
    checked = run_module("check", cwd=tmp_path)
    assert checked.stdout == "seeds/one.txt: 2024-05-22 · 1 paper · 1 vote\n"
    parsed = run_module("parse", "seeds/one.txt", cwd=tmp_path)
    assert parsed.stdout.splitlines()[0] == "2024-05-22: 1 paper, 1 vote"
    built = run_module("build", "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("built 1 issue into public:")


@pytest.mark.parametrize(
    "command",
    [["check", "missing-folder"], ["parse", "missing.txt"], ["build", "--seeds", "missing-folder"]],
)
def test_a_missing_file_or_folder_is_an_input_problem_exit_1(
    tmp_path: Path, command: list[str]
) -> None:
    result = run_module(*command, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("missing") and len(result.stderr.splitlines()) == 1


def test_parse_of_a_folder_is_an_input_problem_exit_1(tmp_path: Path) -> None:
    result = run_module("parse", ".", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, ".: cannot read the file: Is a directory\n")


def test_version_prints_the_installed_package_version(tmp_path: Path) -> None:
    result = run_module("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"newsletter {importlib.metadata.version('daily-papers-newsletter')}\n"


def test_a_control_character_fails_check_and_build_alike_with_one_escaped_line(
    seeds_copy: Path, tmp_path: Path
) -> None:
    path = next(seeds_copy.glob("000_*.txt"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[Your Transformer", "[Your\x1b[2J Transformer"), "utf-8")
    expected = f"{path.as_posix()}:3: a control character U+001B at column 10; delete it\n"
    checked = runner.invoke(app, ["check", str(path)])
    built = run_module("build", "--seeds", str(seeds_copy), "--output", "out", cwd=tmp_path)
    assert (checked.exit_code, checked.stderr) == (1, expected)
    assert (built.returncode, built.stderr) == (1, expected)
    assert not (tmp_path / "out").exists()
