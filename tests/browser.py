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
from typing import Any

import pytest

# Stands in for every image from the internet: the tests never reach the network.
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="648">'
    b'<rect width="100%" height="100%" fill="#c9b8a8"/></svg>'
)

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


def offline(page: Any, site: str) -> None:
    """Let a Playwright page load what is under `site`; answer anything else with PLACEHOLDER."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(site)
            else route.fulfill(body=PLACEHOLDER, content_type="image/svg+xml")
        ),
    )
