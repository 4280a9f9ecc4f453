"""`newsletter serve`: the real command on a free loopback port, fetched over HTTP."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.build import build
from newsletter.config import Settings

BASE_URL = "https://someone.github.io/newsletter/"  # a Pages project site: a path prefix


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings
) -> Iterator[str]:
    output = tmp_path_factory.mktemp("serve") / "public"
    build(seeds_dir, output, settings)
    command = [sys.executable, "-m", "newsletter", "serve", "--output", str(output), "--port", "0"]
    command += ["--base-url", BASE_URL]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first_line = server.stdout.readline()
        yield first_line.split(" at ")[1].split()[0]
    finally:
        server.terminate()
        server.wait(timeout=10)


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.url, response.read()
    except urllib.error.HTTPError as error:
        return error.code, url, error.read()


def test_serve_prints_a_loopback_address_under_the_base_url_path(served: str) -> None:
    assert served.startswith("http://127.0.0.1:") and served.endswith("/newsletter/")


def test_served_site_shows_the_index_and_an_issue_page(served: str) -> None:
    status, _, index = fetch(served)
    assert status == 200 and b"issues/2024-05-22/" in index
    status, _, issue = fetch(served + "issues/2024-05-22/")
    assert status == 200 and b"Your Transformer is Secretly Linear" in issue


def test_server_root_redirects_to_the_site_path(served: str) -> None:
    root = served.removesuffix("newsletter/")
    status, final_url, _ = fetch(root)
    assert status == 200 and final_url == served


def test_missing_page_gets_the_not_found_page(served: str) -> None:
    status, _, body = fetch(served + "issues/1999-01-01/")
    assert status == 404 and "페이지를 찾을 수 없습니다".encode() in body


def test_serve_without_a_built_site_says_to_build_first(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "serve", "--output", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "newsletter build" in result.stderr
