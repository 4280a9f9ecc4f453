"""Tokens that prove a mail came from someone who received the list's mail at that address.

A token is HMAC-SHA256 (RFC 2104) over the action and the lower-cased address, keyed with
`NEWSLETTER_LIST_SECRET`; it is URL-safe base64, so it fits a `mailto:` subject unquoted.
A token for one address does nothing when it arrives from another, and one for one action
(unsubscribe) cannot be used for another (confirm a subscription).

Confirmation tokens also carry when they were issued (milliseconds since the epoch, in
hex), so a confirmation issued before the address's latest change can be refused: an old
confirmation replayed after an unsubscribe does not subscribe anyone again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.errors import NewsletterError

SECRET_VARIABLE = "NEWSLETTER_LIST_SECRET"
MIN_SECRET_LENGTH = 16
MAC_BYTES = 16  # 128 bits: 22 base64 characters
TOKEN = re.compile(r"(?:[0-9a-f]{1,16}\.)?[A-Za-z0-9_-]{22}")
_STAMP = re.compile(r"[0-9a-f]{1,16}")


class ListError(NewsletterError):
    """The mailing list cannot run: a missing setting, an unreachable mailbox."""


@dataclass(frozen=True)
class Tokens:
    secret: bytes = field(repr=False)

    def unsubscribe(self, address: str) -> str:
        """The same every time for one address: it goes into every copy of every issue."""
        return self._mac("unsubscribe", address)

    def is_unsubscribe(self, token: str, address: str) -> bool:
        return hmac.compare_digest(token, self.unsubscribe(address))

    def confirm(self, action: str, address: str, issued: int) -> str:
        """A token for `action` on `address`, issued at `issued` (ms since the epoch)."""
        stamp = f"{issued:x}"
        return f"{stamp}.{self._mac(action, address, stamp)}"

    def confirmed_action(self, token: str, address: str, actions: tuple[str, ...]) -> str | None:
        """Which of `actions` this confirmation token was issued for, for this address."""
        issued = issued_ms(token)
        if issued is None:
            return None
        for action in actions:
            if hmac.compare_digest(token, self.confirm(action, address, issued)):
                return action
        return None

    def _mac(self, action: str, address: str, *extra: str) -> str:
        message = "\n".join([action, address.strip().lower(), *extra]).encode("utf-8")
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def issued_ms(token: str) -> int | None:
    """When a confirmation token was issued (its hex prefix), or None for another token."""
    stamp, dot, _ = token.partition(".")
    return int(stamp, 16) if dot and _STAMP.fullmatch(stamp) else None


def tokens_from_env(environ: Mapping[str, str]) -> Tokens:
    secret = environ.get(SECRET_VARIABLE, "")
    if not secret:
        raise ListError(
            f"{SECRET_VARIABLE} is not set: the list's secret for its tokens "
            f"(at least {MIN_SECRET_LENGTH} random characters, e.g. `openssl rand -hex 32`)"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ListError(
            f"{SECRET_VARIABLE} is too short ({len(secret)} characters): "
            f"use at least {MIN_SECRET_LENGTH} random characters"
        )
    return Tokens(secret.encode("utf-8"))
