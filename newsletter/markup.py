"""Inline Markdown from digests → safe HTML or plain text. The one place that sanitises.

Digest text is untrusted: raw HTML is never passed through (html=False escapes it) and
markdown-it's link validation drops javascript:, vbscript:, file: and data: URLs.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable("linkify")
_LINKIFY: Any = _RENDERER.linkify
_NON_URL_CHAR = re.compile(r"[^\x21-\x7e]")  # Korean text glued to a URL ("…/diamond에서")
# Characters that start an inline rule of the commonmark preset (escape, code, emphasis, link,
# image, autolink, entity, strikethrough, newline); text without them is only escaped.
_INLINE_SYNTAX = re.compile(r"[\\`*_\[\]!<&~\n]")


def _is_plain(source: str) -> bool:
    """True when markdown-it would render `source` as escaped text alone (a fast path: most
    bullets are plain prose, and inline parsing costs ~0.4 ms a bullet)."""
    return not _INLINE_SYNTAX.search(source) and not _LINKIFY.test(source)


@lru_cache(maxsize=4096)
def inline_html(source: str) -> str:
    """Render one line of inline Markdown (a bullet) to HTML safe to embed anywhere."""
    return escapeHtml(source) if _is_plain(source) else _render_markdown(source)


def _render_markdown(source: str) -> str:
    tokens = _inline_tokens(source)
    return str(_RENDERER.renderer.render(tokens, _RENDERER.options, {}))


@lru_cache(maxsize=4096)
def inline_text(source: str) -> str:
    """The same line as plain text: markup removed, a link shown as `text (url)`."""
    if _is_plain(source):
        return source
    parts: list[str] = []
    link_href: str | None = None
    link_text: list[str] = []
    for token in _inline_tokens(source):
        if token.type == "link_open":
            link_href, link_text = str(token.attrs.get("href", "")), []
        elif token.type == "link_close":
            text = "".join(link_text)
            parts.append(text if text == link_href else f"{text} ({link_href})")
            link_href = None
        elif token.type in ("text", "code_inline", "html_inline"):
            (link_text if link_href is not None else parts).append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif token.type == "image":
            parts.append(token.content)
    return "".join(parts)


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _inline_tokens(source: str) -> list[Token]:
    children = _RENDERER.parseInline(source)[0].children or []
    return _trim_linkified_urls(list(children))


def _trim_linkified_urls(tokens: list[Token]) -> list[Token]:
    """End an auto-linked URL at the first non-ASCII character.

    The digests write Korean particles straight after URLs ("https://x.io/a에서"); linkify
    would swallow them into the link and send readers to a page that does not exist.
    """
    result: list[Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        is_autolink = token.type == "link_open" and token.markup == "linkify"
        if is_autolink and index + 2 < len(tokens) and tokens[index + 1].type == "text":
            text_token, close = tokens[index + 1], tokens[index + 2]
            cut = _NON_URL_CHAR.search(text_token.content)
            if cut:
                url, rest = text_token.content[: cut.start()], text_token.content[cut.start() :]
                token.attrs["href"] = _RENDERER.normalizeLink(url)
                text_token.content = url
                tail = Token("text", "", 0, content=rest)
                result.extend([token, text_token, close, tail])
                index += 3
                continue
        result.append(token)
        index += 1
    return result
