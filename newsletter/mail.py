"""Email issue: HTML (Jinja2 + premailer), text part, MIME message. Not written yet: issue 4."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.model import Digest


def issue_email_files(digest: Digest, settings: Settings) -> dict[str, bytes]:
    return {}
