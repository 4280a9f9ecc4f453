"""Settings: the TOML file's values checked, each problem named by its setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import load_settings
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
    config = tmp_path / "newsletter.toml"
    config.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value) == f"{config.as_posix()}: {message}"
