"""`newsletter init`: a commented newsletter.toml with every setting, guessing what it can."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import select
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from commands import newsletter

from newsletter.config import SETTING_HELP, Settings, load_settings
from newsletter.init import (
    GitHubRepository,
    default_value,
    github_repository,
    starter_config,
    starter_values,
)

YEAR = dt.date.today().year  # init stamps the tag authority with the year it is run in


def on_a_terminal(*args: str, cwd: Path, answers: list[str]) -> tuple[int, str]:
    """`python -m newsletter …` on a pseudo-terminal, typing `answers`; exit code and what
    the terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", *args],
        cwd=cwd,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    os.close(terminal)
    os.write(controller, "".join(answer + "\n" for answer in answers).encode())
    shown = b""
    while select.select([controller], [], [], 30)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the program has closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return process.wait(timeout=30), shown.decode()


def git_checkout(folder: Path, origin: str | None) -> Path:
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(folder), "remote", "add", "origin", origin], check=True)
    return folder


def uncommented(text: str) -> dict[str, object]:
    """Every setting in the file, as if each `# name = value` line were uncommented."""
    lines = [re.sub(r"^# (\w+ = )", r"\1", line) for line in text.splitlines()]
    return tomllib.loads("\n".join(lines))


def test_every_setting_is_explained_in_one_line() -> None:
    undocumented = {field.name for field in fields(Settings)} - set(SETTING_HELP)
    assert not undocumented, f"explain {undocumented} in config.SETTING_HELP"
    assert set(SETTING_HELP) <= {field.name for field in fields(Settings)}
    for name, help_text in SETTING_HELP.items():
        assert help_text.strip() and "\n" not in help_text, name


def test_starter_file_lists_every_setting_with_its_default_and_help() -> None:
    text = starter_config({}, {})
    assert tomllib.loads(text) == {}  # everything commented out: the defaults apply
    defaults = {field.name: default_value(field) for field in fields(Settings)}
    assert uncommented(text) == defaults
    for help_text in SETTING_HELP.values():
        assert f"# {help_text}\n" in text


@pytest.mark.parametrize(
    ("remote", "repository"),
    [
        ("https://github.com/Some-One/papers.git", GitHubRepository("Some-One", "papers")),
        ("https://github.com/some-one/papers/", GitHubRepository("some-one", "papers")),
        ("git@github.com:some-one/my.papers.git", GitHubRepository("some-one", "my.papers")),
        ("ssh://git@github.com/some-one/papers.git", GitHubRepository("some-one", "papers")),
        ("https://x-access-token:secret@github.com/o/r.git", GitHubRepository("o", "r")),
        ("https://gitlab.com/some-one/papers.git", None),
        ("/srv/git/papers.git", None),
    ],
)
def test_github_remotes_are_recognised(remote: str, repository: GitHubRepository | None) -> None:
    assert github_repository(remote) == repository


@pytest.mark.parametrize(
    ("repository", "url"),
    [
        (GitHubRepository("Some-One", "Papers"), "https://some-one.github.io/Papers/"),
        (GitHubRepository("Some-One", "some-one.github.io"), "https://some-one.github.io/"),
    ],
)
def test_pages_url_of_a_project_and_of_a_user_site(repository: GitHubRepository, url: str) -> None:
    assert repository.pages_url == url


def test_answers_win_over_guesses_and_the_authority_follows_base_url() -> None:
    remote = "git@github.com:some-one/papers.git"
    values, notes = starter_values(remote, 2031, {"base_url": "https://papers.example.org/"})
    assert values == {
        "base_url": "https://papers.example.org/",
        "feed_id_authority": "papers.example.org,2031",
    }
    assert set(notes) == {"feed_id_authority"}


def test_init_in_a_github_clone_guesses_the_pages_url_and_asks_nothing(tmp_path: Path) -> None:
    checkout = git_checkout(tmp_path / "papers", "git@github.com:Some-One/papers.git")
    result = newsletter("init", cwd=checkout)
    assert result.returncode == 0, result.stderr
    text = (checkout / "newsletter.toml").read_text(encoding="utf-8")
    assert tomllib.loads(text) == {
        "base_url": "https://some-one.github.io/papers/",
        "feed_id_authority": f"some-one.github.io,{YEAR}",
    }
    assert set(uncommented(text)) == set(SETTING_HELP)
    assert "guessed from `git remote get-url origin`" in text
    assert "set email_from" in result.stdout  # the one placeholder left
    settings = load_settings(checkout / "newsletter.toml")
    assert settings.base_url == "https://some-one.github.io/papers/"


def test_init_never_overwrites_a_settings_file(tmp_path: Path) -> None:
    (tmp_path / "newsletter.toml").write_text('title = "Mine"\n', encoding="utf-8")
    result = newsletter("init", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "newsletter.toml: already exists; not overwritten\n"
    assert (tmp_path / "newsletter.toml").read_text(encoding="utf-8") == 'title = "Mine"\n'


def test_init_refuses_a_bad_answer_and_writes_nothing(tmp_path: Path) -> None:
    result = newsletter("init", "--base-url", "ftp://papers.example.org/", cwd=tmp_path)
    assert result.returncode == 1
    assert "setting 'base_url' must be an absolute http(s) URL" in result.stderr
    assert not (tmp_path / "newsletter.toml").exists()


def test_on_a_terminal_init_asks_only_what_a_github_remote_cannot_tell(tmp_path: Path) -> None:
    checkout = git_checkout(tmp_path / "papers", "https://github.com/some-one/papers")
    code, shown = on_a_terminal("init", cwd=checkout, answers=["Papers <papers@example.org>"])
    assert code == 0, shown
    assert "Which address sends the email issues" in shown
    assert "Where will the site be published" not in shown
    written = tomllib.loads((checkout / "newsletter.toml").read_text(encoding="utf-8"))
    assert written["email_from"] == "Papers <papers@example.org>"
    assert written["base_url"] == "https://some-one.github.io/papers/"


def test_on_a_terminal_without_a_remote_init_asks_for_the_site_address(tmp_path: Path) -> None:
    checkout = git_checkout(tmp_path / "papers", origin=None)
    answers = ["https://papers.example.org/daily/", ""]  # an empty answer keeps the default
    code, shown = on_a_terminal("init", cwd=checkout, answers=answers)
    assert code == 0, shown
    assert "Where will the site be published" in shown
    written = tomllib.loads((checkout / "newsletter.toml").read_text(encoding="utf-8"))
    assert written == {
        "base_url": "https://papers.example.org/daily/",
        "feed_id_authority": f"papers.example.org,{YEAR}",
    }


def test_init_into_a_missing_folder_says_so_in_one_line(tmp_path: Path) -> None:
    result = newsletter("init", "--config", "no-such-folder/newsletter.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "no-such-folder/newsletter.toml: cannot write it: No such file or directory\n"
    )
