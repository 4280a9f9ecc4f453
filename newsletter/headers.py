"""Unstructured mail headers (Subject) as RFC 2047 encoded words that decode to the exact text.

Python's own folding may split a run of non-ASCII words into adjacent encoded words with the
space between them outside any word; RFC 2047 §6.2 tells readers to drop whitespace between
adjacent encoded words, so mail programs showed "models  외7편". Here every space between
two non-ASCII words travels inside an encoded word, a fold only ever replaces a space that
separates plain text from an encoded word (or two plain words), and ASCII words stay
readable as they are.
"""

from __future__ import annotations

import base64
import re

MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be no more than 78 characters
MAX_ENCODED_WORD = 75  # RFC 2047 §2
_PREFIX, _SUFFIX = "=?utf-8?b?", "?="
_SHORTEST_CHUNK = 12  # fold before starting an encoded word with less room than this
# A word that can go out as it is: printable ASCII, no "=?" that would read as an encoded
# word (RFC 2047 §5), short enough to fit on a folded line.
_PLAIN_WORD = re.compile(r"(?!.*=\?)[!-~]{1,60}")


def folded_header(name: str, text: str) -> str:
    """`text` as the folded value of header `name` (without "name: "), lines joined by
    CRLF + space; only single spaces are expected between words."""
    lines = [name + ":"]
    for plain, words in _runs(text.split(" ")):
        if plain:
            for word in words:
                _append(lines, word)
        else:
            for chunk in _encoded_chunks(" ".join(words), lines):
                _append(lines, chunk)
    first, *rest = lines
    return "\r\n".join([first.removeprefix(name + ": "), *rest])


def _runs(words: list[str]) -> list[tuple[bool, list[str]]]:
    """Consecutive words grouped by whether they can stay plain."""
    runs: list[tuple[bool, list[str]]] = []
    for word in words:
        plain = bool(_PLAIN_WORD.fullmatch(word))
        if runs and runs[-1][0] == plain:
            runs[-1][1].append(word)
        else:
            runs.append((plain, [word]))
    return runs


def _append(lines: list[str], piece: str) -> None:
    """Add `piece` after a space, on a new folded line when it would pass MAX_LINE."""
    if len(lines[-1]) + 1 + len(piece) > MAX_LINE and lines[-1].strip():
        lines.append(" " + piece)
    else:
        lines[-1] += " " + piece


def _encoded_chunks(text: str, lines: list[str]) -> list[str]:
    """`text` as encoded words, each cut at a character boundary (RFC 2047 §5: a word holds
    whole characters) and sized to the room left on its line."""
    chunks: list[str] = []
    room = MAX_LINE - len(lines[-1]) - 1
    if room < _SHORTEST_CHUNK + len(_PREFIX + _SUFFIX):
        room = MAX_LINE - 1
    current = ""
    for character in text:
        if _encoded_length(current + character) > min(room, MAX_ENCODED_WORD) and current:
            chunks.append(_encode(current))
            current, room = "", MAX_LINE - 1
        current += character
    chunks.append(_encode(current))
    return chunks


def _encoded_length(text: str) -> int:
    return len(_PREFIX) + 4 * -(-len(text.encode()) // 3) + len(_SUFFIX)


def _encode(text: str) -> str:
    return _PREFIX + base64.b64encode(text.encode()).decode("ascii") + _SUFFIX
