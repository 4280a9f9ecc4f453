"""Every issue passes SpamAssassin's local rules without one point against it.

Runs Debian's `spamassassin` (installed by `.ci/run`) when present, and skips otherwise
(unless NEWSLETTER_REQUIRE_SPAMASSASSIN is set, as in CI). `-L` keeps it off the network:
no DNS blocklists, no Razor/Pyzor.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from newsletter import weekly
from newsletter.config import Settings
from newsletter.mail import issue_email_files
from newsletter.model import Digest
from newsletter.send import personal_copy


def read_message(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


SPAMASSASSIN = shutil.which("spamassassin")
RULE_LINE = re.compile(r"^\s*(?P<points>-?\d+(?:\.\d+)?)\s+(?P<rule>[A-Z][A-Z0-9_]+)\s", re.M)

if SPAMASSASSIN is None and os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
    raise RuntimeError("NEWSLETTER_REQUIRE_SPAMASSASSIN is set but spamassassin is missing")
pytestmark = pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed")


def spam_reports(messages: list[bytes], home: Path) -> list[str]:
    """SpamAssassin's report for each message, from one run over an mbox (rules load once)."""
    folder = home / "issues.mbox"
    box = mailbox.mbox(folder)
    for message in messages:
        box.add(message_from_bytes(message, policy=default_policy))
    box.close()
    with folder.open("rb") as stream:
        result = subprocess.run(
            [str(SPAMASSASSIN), "-L", "-t", "--mbox"],
            stdin=stream,
            capture_output=True,
            env={**os.environ, "HOME": str(home)},  # its per-user state stays in tmp
            timeout=180,
            check=True,
        )
    reports = result.stdout.decode("utf-8", "replace").split("Content analysis details:")[1:]
    assert len(reports) == len(messages)
    return reports


def test_no_issue_hits_a_rule_with_points_against_it(
    digests: list[Digest], settings: Settings, tmp_path: Path
) -> None:
    built = [
        next(v for k, v in issue_email_files(d, settings).items() if k.endswith("issue.eml"))
        for d in digests
    ]
    # What a subscriber receives too: `send`'s copy with their address and token in links.
    sent = [
        personal_copy(read_message(issue), "reader@example.com", "T0ken-for-reader_1").as_bytes()
        for issue in built
    ]
    names = [d.slug for d in digests] + [f"{d.slug} as sent" for d in digests]
    for name, report in zip(names, spam_reports(built + sent, tmp_path), strict=True):
        assert points_against(report) == [], name


def test_no_weekly_edition_hits_a_rule_with_points_against_it(
    digests: list[Digest], settings: Settings, tmp_path: Path
) -> None:
    weeks = weekly.finished_weeks(digests)
    built = [
        weekly.email_files(weekly.edition(week, settings), settings)[
            f"{weekly.email_folder(week.week)}issue.eml"
        ]
        for week in weeks
    ]
    sent = [
        personal_copy(read_message(edition), "reader@example.com", "T0ken-for-reader_1").as_bytes()
        for edition in built
    ]
    names = [w.week.slug for w in weeks] + [f"{w.week.slug} as sent" for w in weeks]
    for name, report in zip(names, spam_reports(built + sent, tmp_path), strict=True):
        assert points_against(report) == [], name


def points_against(report: str) -> list[tuple[str, float]]:
    scored = [(m["rule"], float(m["points"])) for m in RULE_LINE.finditer(report)]
    assert scored, report  # the report was read: informational rules always fire
    return [(rule, points) for rule, points in scored if points > 0]
