"""Headless Debian Chromium for tests, driven by Playwright (no browser download).

Chromium runs on loopback only; the flags keep it from reaching for Google's services on
this closed network. Without /usr/bin/chromium the browser tests skip, unless CI sets
NEWSLETTER_REQUIRE_BROWSER=1, where they fail. The same goes for axe-core (the accessibility
checker, from npm): `.ci/run` installs it into the git-ignored `.cache/npm/`; elsewhere point
NEWSLETTER_AXE_CORE at its `axe.min.js`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


AXE_CORE_ENV = "NEWSLETTER_AXE_CORE"
AXE_CORE_DEFAULT = (
    Path(__file__).resolve().parent.parent / ".cache/npm/node_modules/axe-core/axe.min.js"
)


def _missing(what: str) -> None:
    if os.environ.get("NEWSLETTER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} is required")
    pytest.skip(f"{what} is not installed")


def axe_core_path() -> Path:
    """axe-core's browser script, from NEWSLETTER_AXE_CORE or `.cache/npm/`."""
    path = Path(os.environ.get(AXE_CORE_ENV) or AXE_CORE_DEFAULT)
    if not path.is_file():
        _missing(f"axe-core ({path}; npm install --prefix .cache/npm axe-core)")
    return path


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("Debian chromium (apt-get install chromium)")
    assert path is not None  # _missing() raised
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
