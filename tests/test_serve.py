"""`newsletter serve`: the real command on a free loopback port, fetched over HTTP."""

from __future__ import annotations

import http.client
import socket
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
    plant_symlinks(output, tmp_path_factory.mktemp("outside"))
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


def plant_symlinks(output: Path, outside: Path) -> None:
    """Links a careless or hostile output folder could hold: out to the system, out of the
    output, and even to a file inside it."""
    (outside / "secret.html").write_text("SECRET", encoding="utf-8")
    (outside / "index.html").write_text("SECRET", encoding="utf-8")
    (output / "passwd").symlink_to("/etc/passwd")
    (output / "secret.html").symlink_to(outside / "secret.html")
    (output / "issues" / "elsewhere").symlink_to(outside, target_is_directory=True)
    (output / "home.html").symlink_to(output / "index.html")


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


@pytest.mark.parametrize(
    "path",
    ["passwd", "secret.html", "issues/elsewhere/", "issues/elsewhere/secret.html", "home.html"],
)
def test_symbolic_links_are_not_followed(served: str, path: str) -> None:
    status, _, body = fetch(served + path)
    assert status == 404 and b"SECRET" not in body and b"root:" not in body


def test_a_folder_without_index_html_is_not_listed(served: str) -> None:
    status, _, body = fetch(served + "issues/")
    assert status == 404 and b"2024-05-22" not in body


def test_dot_dot_cannot_climb_out_of_the_output(served: str) -> None:
    address = served.removeprefix("http://").split("/")[0]
    connection = http.client.HTTPConnection(address, timeout=10)
    connection.request("GET", "/newsletter/../../../../etc/passwd")
    response = connection.getresponse()
    assert response.status == 404 and b"root:" not in response.read()
    connection.close()


def test_a_taken_port_says_so_in_one_line_and_exits_1(
    tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings
) -> None:
    output = tmp_path_factory.mktemp("taken") / "public"
    build(seeds_dir, output, settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["serve", "--output", str(output), "--port", str(port)]
        result = subprocess.run(
            [sys.executable, "-m", "newsletter", *command],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"port {port} on 127.0.0.1 is taken; choose another with --port (--port 0 picks a free one)"
    ]
