"""Reading built pages in tests: the elements of an HTML page, and where its links lead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from newsletter.config import Settings
from newsletter.serve import preview_server, site_prefix

LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "video": "src", "source": "src"}


class Page(HTMLParser):
    """Every start tag with its attributes, in document order, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def meta(self, prop: str) -> str | None:
        for attrs in self.all("meta"):
            if attrs.get("property") == prop or attrs.get("name") == prop:
                return attrs.get("content")
        return None

    @property
    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.elements if "id" in attrs}

    def links(self) -> list[str]:
        return [
            attrs[attribute]
            for tag, attribute in LINK_ATTRIBUTES.items()
            for attrs in self.all(tag)
            if attribute in attrs
        ]


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def broken_links(output: Path, page_path: str, base_url: str) -> list[str]:
    """Links on one page that neither reach a file (and fragment) in `output` nor leave the
    site for an absolute http(s) URL or a mailto. `page_path`: the page's path in `output`."""
    page_url = base_url + page_path
    problems = []
    for link in read_page(output / page_path).links():
        if link.startswith("mailto:"):
            continue  # the list's address: leaves the site for a mail client
        target = urljoin(page_url, link)
        if not target.startswith(base_url):
            if urlsplit(target).scheme not in ("http", "https") or not urlsplit(link).scheme:
                problems.append(f"{page_path}: {link} leaves the site without an absolute URL")
            continue
        parts = urlsplit(target[len(base_url) :])
        relative = parts.path + ("index.html" if parts.path.endswith("/") or not parts.path else "")
        file = output / relative
        if not file.is_file():
            problems.append(f"{page_path}: {link} → {relative}, which the build did not write")
        elif parts.fragment and parts.fragment not in read_page(file).ids:
            problems.append(f"{page_path}: {link} → no id {parts.fragment!r} in {relative}")
    return problems


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@contextmanager
def serving(output: Path, settings: Settings) -> Iterator[str]:
    """The built site on 127.0.0.1 (`newsletter serve`'s server), under the same path as its
    base URL; yields the site's URL."""
    server = preview_server(output, settings, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}{site_prefix(settings)}"
    finally:
        server.shutdown()
        server.server_close()
