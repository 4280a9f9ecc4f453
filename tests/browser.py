"""Headless Debian Chromium for tests, driven by Playwright (no browser download).

Chromium runs on loopback only; the flags keep it from reaching for Google's services on
this closed network. Without /usr/bin/chromium the browser tests skip, unless CI sets
NEWSLETTER_REQUIRE_BROWSER=1, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian chromium is required (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed")
    return path


@contextmanager
def chromium() -> Iterator[object]:
    """A Playwright Browser on the system Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
