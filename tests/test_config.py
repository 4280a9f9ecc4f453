"""Settings: the TOML file's values checked, each problem named by its setting."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from commands import newsletter

from newsletter.config import Settings, load_settings, placeholder_warnings
from newsletter.errors import ConfigError


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('feed_entries = "30"', "setting 'feed_entries' must be a whole number, found '30'"),
        ("send_rate = true", "setting 'send_rate' must be a number, found True"),
        ("title = 3", "setting 'title' must be text in quotes, found 3"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_setting_and_the_kind_wanted(
    tmp_path: Path, line: str, message: str
) -> None:
    assert config_error(tmp_path, line) == f"{tmp_path.as_posix()}/newsletter.toml: {message}"


def config_error(folder: Path, line: str) -> str:
    """The error loading a newsletter.toml of this one line gives."""
    config = folder / "newsletter.toml"
    config.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    return str(raised.value)


def test_a_published_site_with_placeholders_is_warned_about_each(tmp_path: Path) -> None:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    options = ["--output", str(tmp_path / "public"), "--base-url", "https://a.github.io/b/"]
    result = newsletter("build", "--seeds", str(seeds), *options, cwd=tmp_path)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [re.findall(r"setting '(\w+)'", line) for line in warnings] == [
        ["feed_id_authority"],
        ["email_from"],
    ]


@pytest.mark.parametrize(
    ("changes", "warned"),
    [
        ({}, ["feed_id_authority", "email_from"]),
        ({"email_from": "Me <me@papers.example.org>"}, ["feed_id_authority"]),
        ({"feed_id_authority": "papers.example.org,2024", "email_from": "me@example.net"}, []),
        ({"base_url": "http://127.0.0.1:8000/"}, []),  # a local preview: nothing to warn about
        ({"base_url": "http://localhost:8000/x/"}, []),
    ],
)
def test_placeholders_are_named_only_for_a_published_site(
    changes: dict[str, str], warned: list[str]
) -> None:
    settings = Settings(**{"base_url": "https://papers.example.org/", **changes})
    found = [re.findall(r"setting '(\w+)'", line)[0] for line in placeholder_warnings(settings)]
    assert found == warned


def test_readme_settings_table_names_every_setting() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = [field.name for field in fields(Settings) if f"`{field.name}`" not in table]
    assert not missing, f"README's settings table lacks {missing}"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (r'title = "Daily\u0007 Papers"', "setting 'title' holds a control character U+0007"),
        (
            r'author_name = "\u202eevil"',
            "setting 'author_name' holds a bidirectional control character "
            "(it reorders the text after it) U+202E",
        ),
        (r'subtitle = "x\uffff"', "setting 'subtitle' holds a Unicode noncharacter U+FFFF"),
    ],
)
def test_a_setting_no_feed_or_mail_can_carry_is_an_error_not_a_crash(
    tmp_path: Path, line: str, message: str
) -> None:
    # Such a title crashed the build in lxml; now it is one line naming the setting.
    error = config_error(tmp_path, line)
    assert error.startswith(f"{tmp_path.as_posix()}/newsletter.toml: {message} at character ")
    assert error.isprintable()
