"""Site settings: built-in defaults ← `newsletter.toml` ← command-line options, validated once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.characters import unwritable_characters
from newsletter.errors import ConfigError

CONFIG_FILE = "newsletter.toml"
CSS_INLINERS = ("premailer", "css-inline")
MAX_WEEKLY_PAPERS = 15  # about 5 KB of email each: 15 stay under Gmail's 102 KB clip
ICON_PATH = "icon.png"  # the site's mark, 144×144: the most RSS 2.0 allows for <image>
_NOON = dt.time(12, 0)
_CLOCK_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
# RFC 4151 §2.1: taggingEntity = (DNSname / emailAddress) "," date (YYYY[-MM[-DD]]).
_TAGGING_ENTITY = re.compile(
    r"(?:[a-z0-9._-]+@)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?,\d{4}(?:-\d{2}(?:-\d{2})?)?"
)


def _kind_of_value(expected: type) -> str:
    """The type a setting expects, in the words of someone writing TOML."""
    kinds = {str: "text in quotes", int: "a whole number", float: "a number"}
    return kinds.get(expected, f"a {expected.__name__}")


@dataclass(frozen=True)
class Settings:
    title: str = "Daily Papers 뉴스레터"
    subtitle: str = "Hugging Face Daily Papers, 매일 한국어 요약으로"
    # The default matches `newsletter serve`, so a build with no settings previews correctly.
    base_url: str = "http://127.0.0.1:8000/"
    author_name: str = "Daily Papers"
    author_email: str = ""
    language: str = "ko"
    timezone: str = "Asia/Seoul"
    publish_time: str = ""  # "HH:MM" in `timezone` that issues are dated; empty: 12:00 UTC
    feed_entries: int = 30
    weekly_papers: int = 10  # papers in a weekly edition, most voted first
    # RFC 4151 tagging entity ("name,date") for feed and entry ids. Deliberately not the
    # base_url's host: ids must survive the site moving. Set it once, never change it.
    feed_id_authority: str = "daily-papers-newsletter.invalid,2024"
    email_from: str = "Daily Papers <newsletter@example.org>"
    unsubscribe_url: str = ""  # RFC 8058 one-click endpoint (HTTPS, accepts POST)
    unsubscribe_mailto: str = ""
    # The mailing list: where people write to subscribe (default: email_from's address),
    # and the IMAP folder under which the list keeps its state.
    list_address: str = ""
    list_folder: str = "Newsletter"
    icon: str = ""
    logo: str = ""
    templates_dir: str = ""  # the user's own templates, searched before the built-in ones
    send_rate: float = 5.0  # messages per second at most
    css_inliner: str = "css-inline"  # or "premailer": ~10× slower, the original design's

    def url(self, path: str = "") -> str:
        """An absolute URL for a path inside the site."""
        return self.base_url + path.lstrip("/")

    def issue_url(self, slug: str) -> str:
        return self.url(f"issues/{slug}/")

    def icon_url(self) -> str:
        """The feeds' icon and the site's favicon: the `icon` setting, else the site's mark."""
        return self.icon or self.url(ICON_PATH)

    def logo_url(self) -> str:
        """The feeds' logo (RSS <image>, JSON Feed icon): `logo`, else the site's mark."""
        return self.logo or self.url(ICON_PATH)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def published_time(self, date: dt.date) -> dt.datetime:
        """When an issue is published, shown in the configured zone; never now.

        `publish_time` on its day when set; else 12:00 UTC of that day, which is still that
        day from UTC−11 to UTC+11, so feed readers in UTC, Seoul or California all show the
        digest's own date (midnight in Seoul was the day before in UTC)."""
        if self.publish_time:
            moment = dt.time.fromisoformat(self.publish_time)
            return dt.datetime.combine(date, moment, tzinfo=self.zone)
        return dt.datetime.combine(date, _NOON, tzinfo=dt.UTC).astimezone(self.zone)

    @property
    def list_mailbox(self) -> str:
        """The list's address: `list_address`, or else the address in `email_from`."""
        from email.utils import parseaddr  # here: 13 ms to import, and a build needs none

        return (self.list_address or parseaddr(self.email_from)[1]).strip().lower()

    def fingerprint(self) -> str:
        """Settings as a stable string, for cache keys."""
        return repr(dataclasses.astuple(self))


# Every setting in one line of the owner's words. `newsletter init` writes each above its
# default in newsletter.toml; a test fails while a Settings field is missing here, so a new
# setting is documented where a newcomer will read it.
SETTING_HELP: dict[str, str] = {
    "title": "Title of the feeds, the web archive and every email issue.",
    "subtitle": "One line under the title, in the feeds and on the site.",
    "base_url": "Where the site is published; every link in feeds and email is absolute.",
    "author_name": "The feeds' author.",
    "author_email": "The feeds' author's e-mail address, shown in the feeds; '' for none.",
    "language": "Language tag of the digests (RFC 5646), e.g. 'ko'.",
    "timezone": "Time zone whose days the digests' dates are (an IANA name).",
    "publish_time": (
        "'HH:MM' in timezone that feeds and mail date each issue; '' for 12:00 UTC, "
        "the digest's own date for readers from UTC-11 to UTC+11."
    ),
    "feed_entries": (
        "Issues per RFC 5005 archive page; feed.xml, rss.xml and feed.json hold the newest "
        "feed_entries to 2 x feed_entries - 1 (weekly.xml: weeks, likewise)."
    ),
    "weekly_papers": "Papers in a weekly edition, most voted first (1 to 15).",
    "feed_id_authority": (
        "RFC 4151 tag authority of every feed id: a domain you own, a comma, a year. "
        "Set it once, never change it (readers would show every issue again)."
    ),
    "email_from": "Sender of the email issues: an address your SMTP server lets you send from.",
    "unsubscribe_url": "RFC 8058 one-click unsubscribe URL (https, takes a POST); '' for none.",
    "unsubscribe_mailto": (
        "Where readers mail to unsubscribe; '' for the list address (subscribers sync acts on it)."
    ),
    "list_address": (
        "The mailing list's address, where readers write to subscribe; '' for email_from's."
    ),
    "list_folder": "IMAP folder of the list's mailbox under which it keeps its state.",
    "icon": "Absolute URL of a small square icon for the feeds and pages; '' for the site's mark.",
    "logo": "Absolute URL of a logo (GIF, JPEG or PNG) for the feeds; '' for the site's mark.",
    "templates_dir": "A folder of your own templates, searched before the built-in ones.",
    "send_rate": "Messages sent per second at most.",
    "css_inliner": "'css-inline' (Rust), or 'premailer': about 10x slower, last released 2021.",
}

# Settings whose defaults only stand in until the owner sets their own: a published site
# should not keep them (`placeholder_warnings`).
PLACEHOLDER_SETTINGS = ("feed_id_authority", "email_from")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def placeholder_warnings(settings: Settings) -> list[str]:
    """One warning per placeholder setting still at its default, when the site is built for
    somewhere other than this machine."""
    if urlsplit(settings.base_url).hostname in LOCAL_HOSTS:
        return []
    return [
        f"warning: setting '{name}' still holds the placeholder {getattr(settings, name)!r}; "
        f"set yours in {CONFIG_FILE} (`newsletter init` writes one)"
        for name in PLACEHOLDER_SETTINGS
        if getattr(settings, name) == getattr(Settings, name)
    ]


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file (if any), then non-None overrides; all validated together."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    path = config_path if config_path is not None else Path(CONFIG_FILE)
    if config_path is not None or path.exists():
        values.update(_read_toml(path, problems))
    values.update({key: value for key, value in overrides.items() if value is not None})
    return settings_from(values, path, problems)


def settings_from(
    values: Mapping[str, Any], source: Path, problems: Sequence[str] = ()
) -> Settings:
    """Settings from raw values (a TOML table, options), each problem named by its setting
    and prefixed with `source`; `problems` are ones already found reading the source."""
    values = dict(values)
    problems = list(problems)
    known = {field.name: field for field in fields(Settings)}
    for key in sorted(set(values) - set(known)):
        problems.append(f"unknown setting '{key}' (known: {', '.join(known)})")
        del values[key]
    for key, value in values.items():
        expected = type(Settings.__dataclass_fields__[key].default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(value, expected) or isinstance(value, bool):
            problems.append(f"setting '{key}' must be {_kind_of_value(expected)}, found {value!r}")
    if problems:
        raise ConfigError(_message(source, problems))
    if not str(values.get("base_url", Settings.base_url)).endswith("/"):
        values["base_url"] = values["base_url"] + "/"
    settings = Settings(**values)
    problems = list(_validate(settings))
    if problems:
        raise ConfigError(_message(source, problems))
    return settings


def _read_toml(path: Path, problems: list[str]) -> Mapping[str, Any]:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        problems.append("the config file does not exist")
        return {}
    except tomllib.TOMLDecodeError as error:
        problems.append(f"not valid TOML: {error}")
        return {}
    # Accept both a flat file and a [newsletter] table.
    table = document.get("newsletter", document)
    return dict(table) if isinstance(table, dict) else {}


def _validate(settings: Settings) -> list[str]:
    problems = []
    for name in ("base_url", "unsubscribe_url", "icon", "logo"):
        value = getattr(settings, name)
        if value and not _is_absolute_url(value):
            problems.append(f"setting '{name}' must be an absolute http(s) URL, found {value!r}")
    if settings.unsubscribe_url and not settings.unsubscribe_url.startswith("https://"):
        problems.append("setting 'unsubscribe_url' must use https:// (RFC 8058 §3)")
    if settings.unsubscribe_mailto and "@" not in settings.unsubscribe_mailto:
        problems.append(
            f"setting 'unsubscribe_mailto' must be an e-mail address, "
            f"found {settings.unsubscribe_mailto!r}"
        )
    try:
        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"setting 'timezone' is not a known time zone: {settings.timezone!r}")
    for setting in fields(settings):
        value = getattr(settings, setting.name)
        for index, character in unwritable_characters(value if isinstance(value, str) else ""):
            problems.append(
                f"setting '{setting.name}' holds {character} at character {index + 1}; delete it"
            )
    if settings.publish_time and not _CLOCK_TIME.fullmatch(settings.publish_time):
        problems.append(
            "setting 'publish_time' must be a 24-hour time HH:MM like '07:00', "
            f"found {settings.publish_time!r}"
        )
    if settings.feed_entries < 1:
        problems.append(f"setting 'feed_entries' must be 1 or more, found {settings.feed_entries}")
    if not 1 <= settings.weekly_papers <= MAX_WEEKLY_PAPERS:
        problems.append(
            f"setting 'weekly_papers' must be from 1 to {MAX_WEEKLY_PAPERS} "
            f"(the email stays under Gmail's 102 KB clip), found {settings.weekly_papers}"
        )
    if not _TAGGING_ENTITY.fullmatch(settings.feed_id_authority):
        problems.append(
            "setting 'feed_id_authority' must be a lower-case domain or e-mail address you own, "
            f"a comma and a date you owned it on (e.g. 'example.org,2024'), "
            f"found {settings.feed_id_authority!r}"
        )
    if settings.css_inliner not in CSS_INLINERS:
        problems.append(
            f"setting 'css_inliner' must be one of {', '.join(CSS_INLINERS)}, "
            f"found {settings.css_inliner!r}"
        )
    if settings.send_rate <= 0:
        problems.append(f"setting 'send_rate' must be above 0, found {settings.send_rate}")
    if not settings.language or not settings.language.replace("-", "").isalnum():
        problems.append(
            f"setting 'language' must be a language tag like 'ko', found {settings.language!r}"
        )
    if "@" not in settings.email_from:
        problems.append(
            f"setting 'email_from' must contain an e-mail address, found {settings.email_from!r}"
        )
    if settings.list_address and "@" not in settings.list_address:
        problems.append(
            f"setting 'list_address' must be an e-mail address, found {settings.list_address!r}"
        )
    folder = settings.list_folder
    if not folder.strip() or folder != folder.strip(" /.") or folder.upper() == "INBOX":
        problems.append(
            "setting 'list_folder' must be an IMAP folder name such as 'Newsletter' "
            f"(not INBOX, no leading or trailing '/' or '.'), found {folder!r}"
        )
    return problems


def _is_absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _message(path: Path, problems: list[str]) -> str:
    return "\n".join(f"{path.as_posix()}: {problem}" for problem in problems)
