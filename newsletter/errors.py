"""User-facing errors: each says what is wrong and where, so the maintainer can fix it.

Anything else that escapes is a bug in this tool and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Unicode §23.7: U+FDD0..U+FDEF and the last two code points of every plane.
NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
# Explicit embeddings, overrides and isolates (Unicode bidi algorithm, UAX #9 §2): they
# reorder how the text after them is shown (the "Trojan Source" trick).
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# What a terminal would act on or hide rather than show: C0 and C1 controls, bidi controls,
# surrogates and noncharacters. Messages show them escaped.
_UNPRINTABLE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff{BIDI_CONTROLS}{NONCHARACTERS}]")


def printable(text: str) -> str:
    """`text` safe to print on a terminal: each control character as `\\x07`, `\\u202e`."""
    return _UNPRINTABLE.sub(lambda match: match[0].encode("unicode_escape").decode(), text)


class NewsletterError(Exception):
    """A problem in the user's input (a digest, a setting, an address); the CLI exits 1."""


@dataclass(frozen=True)
class Problem:
    path: str
    line: int  # 1-based; 0 when the problem is the whole file (it cannot be read)
    message: str

    def __str__(self) -> str:
        if self.line == 0:
            return printable(f"{self.path}: {self.message}")
        return printable(f"{self.path}:{self.line}: {self.message}")


class DigestError(NewsletterError):
    """One or more problems in digest files, each printed as `path:line: message`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("DigestError needs at least one problem")
        self.problems = tuple(problems)
        first = self.problems[0]
        self.path, self.line, self.message = first.path, first.line, first.message
        super().__init__("\n".join(str(problem) for problem in self.problems))


class ConfigError(NewsletterError):
    """Invalid settings; the message names every bad setting."""


class SendError(NewsletterError):
    """Sending cannot start or did not reach every recipient."""
