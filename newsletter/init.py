"""`newsletter init`: a commented newsletter.toml listing every setting with its default.

What can be guessed is guessed: a GitHub remote gives the Pages URL and a tag authority the
owner controls. The text comes from `config.SETTING_HELP`, so a new setting appears here
as soon as it is documented there.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.config import CONFIG_FILE, LOCAL_HOSTS, SETTING_HELP, Settings
from newsletter.errors import NewsletterError

# https://github.com/OWNER/REPO(.git), git@github.com:OWNER/REPO.git, ssh://git@github.com/…
_GITHUB_REMOTE = re.compile(
    r"(?:(?:https?|ssh|git)://(?:[^@/]+@)?github\.com(?::\d+)?/|git@github\.com:)"
    r"(?P<owner>[A-Za-z0-9-]+)/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?"
)
SettingValue = str | int | float


@dataclass(frozen=True)
class GitHubRepository:
    owner: str
    name: str

    @property
    def pages_url(self) -> str:
        """The repository's GitHub Pages address: a user site for OWNER.github.io, else a
        project site under /REPO/. Host names are lower case; the path keeps the name's case."""
        host = f"{self.owner.lower()}.github.io"
        return f"https://{host}/" if self.name.lower() == host else f"https://{host}/{self.name}/"


def github_repository(remote_url: str) -> GitHubRepository | None:
    """The GitHub repository a git remote URL points at, or None for any other host."""
    match = _GITHUB_REMOTE.fullmatch(remote_url.strip())
    return GitHubRepository(match["owner"], match["name"]) if match else None


def tag_authority(base_url: str, year: int) -> str | None:
    """An RFC 4151 tagging entity (`host,year`) for a published site, None for a local one."""
    host = urlsplit(base_url).hostname
    return None if not host or host in LOCAL_HOSTS else f"{host},{year}"


def starter_values(
    remote_url: str | None, year: int, given: Mapping[str, SettingValue]
) -> tuple[dict[str, SettingValue], dict[str, str]]:
    """The settings a new newsletter.toml sets, and a note on where each guess came from:
    base_url from a GitHub `origin`, feed_id_authority from base_url's host and `year`;
    `given` values (the owner's answers) win over guesses."""
    values: dict[str, SettingValue] = {}
    notes: dict[str, str] = {}
    repository = github_repository(remote_url) if remote_url else None
    if repository is not None:
        values["base_url"] = repository.pages_url
        notes["base_url"] = "guessed from `git remote get-url origin`"
    values.update(given)
    notes = {name: note for name, note in notes.items() if name not in given}
    authority = tag_authority(str(values.get("base_url", "")), year)
    if "feed_id_authority" not in values and authority is not None:
        values["feed_id_authority"] = authority
        notes["feed_id_authority"] = f"guessed from base_url's host in {year}"
    return values, notes


def starter_config(values: Mapping[str, SettingValue], notes: Mapping[str, str]) -> str:
    """newsletter.toml's text: every setting with its one-line help and default, commented
    out unless `values` sets it, with the note (if any) on where its value came from."""
    lines = [
        f"# {CONFIG_FILE}: settings for `newsletter build`, `send` and `serve`.",
        '# Each setting shows its default; remove the leading "# " to change one.',
    ]
    for field in fields(Settings):
        default = toml_value(default_value(field))
        lines += ["", f"# {SETTING_HELP[field.name]}"]
        if field.name in values:
            note = f"{notes[field.name]}; " if field.name in notes else ""
            lines += [f"# ({note}default: {default})"]
            lines += [f"{field.name} = {toml_value(values[field.name])}"]
        else:
            lines += [f"# {field.name} = {default}"]
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    """A TOML literal for a setting's value. A JSON string is a valid TOML basic string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for setting value {value!r}")


def default_value(setting: Field[Any]) -> object:
    """A Settings field's default, also when it comes from a default_factory."""
    if setting.default_factory is not MISSING:
        return setting.default_factory()
    return setting.default


def origin_remote_url(folder: Path) -> str | None:
    """`git remote get-url origin` in `folder`, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:  # git is not installed
        return None
    if result.returncode != 0:  # not a checkout, or no remote named origin
        return None
    return result.stdout.strip() or None


def write_new_file(path: Path, text: str) -> None:
    """Create `path` with `text`; an existing file is never overwritten."""
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise NewsletterError(f"{path}: already exists; not overwritten") from None
    except OSError as error:
        raise NewsletterError(f"{path}: cannot write it: {error.strerror}") from None
