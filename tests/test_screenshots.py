"""README's screenshots of the site and of an email issue, taken by the tests' browser.

`UPDATE_SCREENSHOTS=1 python -m pytest tests/test_screenshots.py` retakes docs/site.png and
docs/email.png from the seeds (a Korean font must be installed: Debian `fonts-noto-cjk`);
every run checks they exist, stay small and are the ones README shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from email.message import EmailMessage
from pathlib import Path

from browser import chromium, offline

from newsletter.build import build
from newsletter.config import Settings
from newsletter.send import built_issue_path, read_issue
from newsletter.serve import preview_server, site_prefix

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
LARGEST = 200_000  # bytes: README should load fast
EMAIL_DATE = "2024-05-22"


def korean_font_installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def take_screenshots(output: Path, settings: Settings) -> None:
    server = preview_server(output, settings, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    site = f"http://{host!s}:{port}{site_prefix(settings)}"
    try:
        with chromium() as browser:
            page = browser.new_page(  # type: ignore[attr-defined]
                viewport={"width": 960, "height": 720}, color_scheme="light"
            )
            offline(page, site)
            page.goto(site)
            page.screenshot(path=str(DOCS / "site.png"))
            page.set_viewport_size({"width": 680, "height": 960})
            page.set_content(html_part(read_issue(built_issue_path(output, EMAIL_DATE))))
            page.screenshot(path=str(DOCS / "email.png"))
            page.close()
    finally:
        server.shutdown()
        server.server_close()


def test_readme_shows_small_screenshots_of_the_site_and_an_email(
    tmp_path: Path, seeds_dir: Path, settings: Settings
) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        assert korean_font_installed(), (
            "install a Korean font first: apt-get install fonts-noto-cjk"
        )
        output = tmp_path / "public"
        build(seeds_dir, output, settings)
        DOCS.mkdir(exist_ok=True)
        take_screenshots(output, settings)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("site.png", "email.png"):
        shot = (DOCS / name).read_bytes()
        assert shot.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(shot) <= LARGEST, f"docs/{name} is {len(shot)} bytes"
        assert f"](docs/{name})" in readme, f"README does not show docs/{name}"
