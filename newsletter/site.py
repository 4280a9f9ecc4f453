"""Web archive pages. Not written yet: issue 5."""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.config import Settings
from newsletter.model import Digest


def issue_page_files(
    digest: Digest, previous: Digest | None, following: Digest | None, settings: Settings
) -> dict[str, bytes]:
    return {}


def site_files(digests: Sequence[Digest], settings: Settings) -> dict[str, bytes]:
    return {}
