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

WIDTH = 78  # RFC 5322 §2.1.1
# Leading spaces and a list marker ("- ", "1. "): continuation lines are indented past it.
_HANGING = re.compile(r" *(?:[-*] |[0-9]+\. )?")


def wrap_text(text: str, width: int = WIDTH) -> str:
    """Every line of `text` wrapped at `width` display columns (Hangul counts two)."""
    return "\n".join(wrapped for line in text.split("\n") for wrapped in _wrap_line(line, width))


def _wrap_line(line: str, width: int) -> list[str]:
    # The line as wide as it is long: columns are positions in `spread`.
    spread = _spread(line)
    if len(spread) <= width:
        return [line]
    prefix = _HANGING.match(line)
    head = prefix[0] if prefix else ""  # ASCII: as wide as it is long
    words = line[len(head) :].split(" ")
    spread = spread[len(head) :]
    room = max(0, width - len(head))  # for each line's words, after the head or indent
    lines: list[str] = []
    start = first_word = 0  # where the next line starts, in `spread` and in `words`
    while start <= len(spread):
        end = _line_end(spread, start, room)
        count = spread.count(" ", start, end) + 1
        lines.append(" ".join(words[first_word : first_word + count]))
        start, first_word = end + 1, first_word + count
    indent = " " * len(head)
    return [head + lines[0], *(indent + rest for rest in lines[1:])]


def _line_end(spread: str, start: int, room: int) -> int:
    """Where the line from `start` ends: after as many words as fit in `room` columns (at
    the last space that fits), or after its first word when even that one does not fit."""
    if len(spread) - start <= room:
        return len(spread)
    end = spread.rfind(" ", start, start + room + 1)
    if end < 0:
        end = spread.find(" ", start)
    return len(spread) if end < 0 else end


def columns(text: str) -> int:
    """How many terminal columns `text` takes: East Asian wide and fullwidth characters two."""
    return len(_spread(text))


def _spread(text: str) -> str:
    """`text` with each wide character written twice: as long as `text` is wide."""
    return text if text.isascii() else text.translate(_WIDE_TWICE)


class _WideTwice(dict[int, str]):
    """A `str.translate` table, filled as characters are met (a C-speed dictionary lookup
    once a character is known): East Asian wide and fullwidth (UAX #11: "W", "F") to the
    character twice, any other character to itself."""

    def __missing__(self, code: int) -> str:
        character = chr(code)
        wide = unicodedata.east_asian_width(character) in "WF"
        self[code] = character * 2 if wide else character
        return self[code]


_WIDE_TWICE = _WideTwice()
