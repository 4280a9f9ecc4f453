"""Characters no output can carry, and text made safe to show on a terminal.

One place decides both, for digests (`parse.py`), settings (`config.py`) and every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Unicode §23.7: U+FDD0..U+FDEF and the last two code points of every plane.
_BMP_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"
_NONCHARACTERS = _BMP_NONCHARACTERS + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
# Explicit embeddings, overrides and isolates (Unicode bidi algorithm, UAX #9 §2): they
# reorder how the text after them is shown (the "Trojan Source" trick).
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_SURROGATES = "\ud800-\udfff"
# XML 1.0 (§2.2) forbids C0 controls other than tab and line ends, surrogates and
# U+FFFE/U+FFFF; the other controls and noncharacters are invisible garbage in a feed or a
# mail, and bidi controls reorder what follows them, in a title and in the subject line a
# reader sees (the digests are Korean and English and have no use for them).
_UNWRITABLE = re.compile(
    f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_SURROGATES}{_BIDI_CONTROLS}{_NONCHARACTERS}]"
)
# The same for text with no character beyond U+FFFF: ten times faster to search (the
# regex engine tests each of the 32 astral noncharacters one by one).
_UNWRITABLE_BMP = re.compile(
    f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_SURROGATES}{_BIDI_CONTROLS}{_BMP_NONCHARACTERS}]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# What a terminal would act on or hide rather than show: the same, and tab and line ends.
_UNPRINTABLE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_SURROGATES}{_BIDI_CONTROLS}{_NONCHARACTERS}]")


def unwritable_characters(text: str) -> Iterator[tuple[int, str]]:
    """(index, description) of each character in `text` no feed, mail or page can carry,
    e.g. (6, "a control character U+0007")."""
    pattern = _UNWRITABLE if _ASTRAL.search(text) else _UNWRITABLE_BMP
    for found in pattern.finditer(text):
        yield found.start(), f"{_kind(found[0])} U+{ord(found[0]):04X}"


def _kind(character: str) -> str:
    if re.fullmatch(f"[{_BIDI_CONTROLS}]", character):
        return "a bidirectional control character (it reorders the text after it)"
    if re.fullmatch(f"[{_NONCHARACTERS}]", character):
        return "a Unicode noncharacter"
    if re.fullmatch(f"[{_SURROGATES}]", character):
        return "an unpaired surrogate"
    return "a control character"


def printable(text: str) -> str:
    """`text` safe to print on a terminal: each control character as `\\x07`, `\\u202e`."""
    return _UNPRINTABLE.sub(lambda match: match[0].encode("unicode_escape").decode(), text)
