"""User-facing errors: each says what is wrong and where, so the maintainer can fix it.

Anything else that escapes is a bug in this tool and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.characters import printable


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
