"""`newsletter serve`: preview the built site on loopback, the way GitHub Pages would serve it.

The site is served under the base URL's path (`/newsletter/` for
`https://example.github.io/newsletter/`), so a project-site build previews with the same
paths it will have once published; `/` redirects there. Missing files get `404.html`.
Only regular files inside the output are served: no symbolic links (they could lead anywhere
on this machine) and no directory listings, as on GitHub Pages.
"""

from __future__ import annotations

import errno
import os
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.config import Settings
from newsletter.errors import NewsletterError

LOOPBACK = "127.0.0.1"


def site_prefix(settings: Settings) -> str:
    """The path the site lives under, with slashes at both ends: `/`, `/newsletter/`."""
    path = urlsplit(settings.base_url).path
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def preview_server(output: Path, settings: Settings, port: int) -> ThreadingHTTPServer:
    """A server (not yet running) for `output` on 127.0.0.1; port 0 picks a free one."""
    if not (output / "index.html").is_file():
        raise NewsletterError(f"{output}: no built site here; run `newsletter build` first")
    handler = partial(
        PreviewHandler, directory=str(output.absolute()), prefix=site_prefix(settings)
    )
    try:
        return ThreadingHTTPServer((LOOPBACK, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise NewsletterError(
                f"port {port} on {LOOPBACK} is taken; choose another with --port "
                "(--port 0 picks a free one)"
            ) from None
        raise NewsletterError(f"cannot listen on {LOOPBACK}:{port}: {error.strerror}") from None


def servable(root: Path, target: Path) -> bool:
    """Whether `target` is a regular file, or a folder with an index.html, inside `root`,
    reached through no symbolic link."""
    try:
        parts = target.relative_to(root).parts
    except ValueError:
        return False
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            return False
    if current.is_dir():
        index = current / "index.html"
        return index.is_file() and not index.is_symlink()
    return current.is_file()


class PreviewHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, directory: str, prefix: str, **kwargs: Any) -> None:
        self.prefix = prefix  # set first: the base class handles the request in __init__
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self) -> Any:
        path = urlsplit(self.path).path
        if self.prefix != "/" and path in ("/", self.prefix.rstrip("/")):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", self.prefix)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        root = Path(str(self.directory))
        if not path.startswith(self.prefix) or not servable(root, Path(self.translate_path(path))):
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """Never list a folder (`servable` already refuses one without index.html)."""
        self.send_error(HTTPStatus.NOT_FOUND)

    def translate_path(self, path: str) -> str:
        inside = urlsplit(path).path[len(self.prefix) - 1 :]
        return super().translate_path(inside)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        root = Path(str(self.directory))
        page = root / "404.html"
        if code != HTTPStatus.NOT_FOUND or not servable(root, page):
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(code, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
