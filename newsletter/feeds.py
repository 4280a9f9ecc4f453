"""Atom, RSS 2.0 and JSON Feed from the model (feedgen). Not written yet: see issue 3."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from newsletter.config import Settings
from newsletter.model import Digest


def feed_files(
    digests: Sequence[Digest], settings: Settings, updated: Mapping[dt.date, dt.datetime]
) -> dict[str, bytes]:
    return {}
