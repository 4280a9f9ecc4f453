"""Subscriber addresses are personal data: logs of a public repository's Actions runs are
public, so there an address is shown masked (`a***@example.com`)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def in_public_log(environ: Mapping[str, str] | None = None) -> bool:
    """True under GitHub Actions or any CI that sets `CI` (their logs may be public)."""
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip() for name in ("GITHUB_ACTIONS", "CI"))


def masked(address: str) -> str:
    """`ada@example.com` → `a***@example.com`: enough to tell addresses apart at a glance,
    not enough to write to someone."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def shown_address(address: str, environ: Mapping[str, str] | None = None) -> str:
    """The address in full on a developer's terminal, masked in a CI log."""
    return masked(address) if in_public_log(environ) else address
