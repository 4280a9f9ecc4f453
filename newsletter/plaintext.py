"""The email's text part wrapped for text mail programs: at most 78 columns a line.

Hard line breaks with a hanging indent, not `format=flowed` (RFC 3676): they read the same
in every client (Gmail and Outlook ignore flowed), a bullet's continuation lines stay aligned
under its text, and no trailing space has to survive `send`, which re-encodes the part for
each recipient. Lines break only at spaces, so a URL is never cut: one longer than the room
gets a line of its own (RFC 5322 §2.1.1 allows up to 998 characters).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

WIDTH = 78  # RFC 5322 §2.1.1
# Leading spaces and a list marker ("- ", "1. "): continuation lines are indented past it.
_HANGING = re.compile(r" *(?:[-*] |[0-9]+\. )?")


def wrap_text(text: str, width: int = WIDTH) -> str:
    """Every line of `text` wrapped at `width` display columns (Hangul counts two)."""
    return "\n".join(wrapped for line in text.split("\n") for wrapped in _wrap_line(line, width))


def _wrap_line(line: str, width: int) -> list[str]:
    if columns(line) <= width:
        return [line]
    prefix = _HANGING.match(line)
    head = prefix[0] if prefix else ""
    indent = " " * columns(head)
    first, *words = line[len(head) :].split(" ")
    lines = [head + first]
    used = columns(lines[-1])  # the last line's width, kept as it grows (not re-measured)
    for word in words:
        word_columns = columns(word)
        if used + 1 + word_columns <= width:
            lines[-1] += " " + word
            used += 1 + word_columns
        else:
            lines.append(indent + word)
            used = len(indent) + word_columns
    return lines


def columns(text: str) -> int:
    """How many terminal columns `text` takes: East Asian wide and fullwidth characters two."""
    if text.isascii():
        return len(text)
    return len(text) + sum(map(_is_wide, text))


@cache
def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"
