"""Markdown digest → `Digest`, or a `DigestError` listing every problem with its line.

The digest is read with markdown-it-py's block token stream, whose `map` gives each block's
source lines; every check below names the line the maintainer has to fix. Only headings and
media lines are parsed inline; summary bullets stay Markdown source for `markup.py`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.characters import printable, unwritable_characters
from newsletter.errors import DigestError, Problem
from newsletter.model import Digest, Paper

if TYPE_CHECKING:  # markdown-it is imported when a digest is parsed: a build from the cache
    from markdown_it import MarkdownIt  # does not need it
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token


# The digest format has no indented or fenced code, quotes, rules, link reference definitions
# or setext headings. With those rules off such lines arrive as paragraphs and are reported at
# their line (a reference definition would otherwise vanish silently), and the block pass
# takes about 40% less time. html=True so the seeds' raw <div><video> arrives as one
# html_block to check; inline parsing is skipped here and done only where it is needed.
@cache
def _block_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return (
        MarkdownIt("commonmark", {"html": True})
        .disable(["code", "fence", "blockquote", "hr", "reference", "lheading"])
        .disable(["inline", "text_join"])
    )


@cache
def _inline_parser() -> MarkdownIt:
    """Full CommonMark inline rules, so a heading is a link exactly when the renderers see one."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True})


_HEADER = re.compile(r"Daily Papers \((?P<date>[^)]*)\)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_VOTE = re.compile(r"Vote:[ \t]*(?P<value>.*)")
_VOTE_LIKE = re.compile(r"votes?\b", re.IGNORECASE)
_AUTHORS = re.compile(r"Authors?:\s*(?P<value>.*)", re.DOTALL)
_AUTHORS_LIKE = re.compile(r"authors?\b", re.IGNORECASE)
_ARXIV = re.compile(r"https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/(?P<id>[0-9]{4}\.[0-9]{4,5})")
_VIDEO_BLOCK = re.compile(r"\s*<div>\s*<video\b[^>]*>\s*</video>\s*</div>\s*", re.IGNORECASE)
_VIDEO_SRC = re.compile(r"""<video\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_VIDEO_FILE = re.compile(r"\.(?:mp4|webm|mov|m4v)(?:[?#].*)?$", re.IGNORECASE)
# A link destination markdown-it keeps exactly as written (its normalizeLink changes none:
# no "%", "&", space, bracket or non-ASCII character), and a link text in which CommonMark
# finds nothing that could reach past the link (brackets, escapes, code spans, autolinks,
# raw HTML, entities). Such headings and thumbnail lines, nearly all of them, are read with
# these patterns, at a tenth of markdown-it's cost; tests hold the two readings equal.
_PLAIN_URL = r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:[/?#][-A-Za-z0-9._~/?#:@!$*+,;=]*)?"
_PLAIN_TEXT = r"[^\[\]\\`<>&\n]*"
_PLAIN_LINK = re.compile(rf"\[(?P<text>{_PLAIN_TEXT})\]\((?P<url>{_PLAIN_URL})\)")
_PLAIN_IMAGE = re.compile(rf"!\[{_PLAIN_TEXT}\]\((?P<url>{_PLAIN_URL})\)")
# A heading without a closing "#" sequence (CommonMark §4.2), and how a line or a bullet's
# text begins when it might open a block other than a paragraph.
_PLAIN_HEADING = re.compile(r"(?P<level>#{2,3})[ \t](?P<text>.*[^# \t])[ \t]*")
_DIV_LINE = re.compile(r"<div(?:[ \t>]|$)")
_MAY_OPEN_BLOCK = re.compile(r"[ \t#*+\-<>`~=_]|[0-9]+[.)](?:[ \t]|$)")
_BRACKETED_HEADING = re.compile(r"\[(?P<text>.*)\]\((?P<url>[^\s()<>]+)\)")
# CommonMark §2.4: a backslash before ASCII punctuation escapes it
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_AUTHOR_ELISION = "+"
_MAX_VOTE_DIGITS = 9

DIGEST_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class _Block:
    """One top-level block of the digest: its kind, first line (1-based) and source."""

    kind: str  # "h2", "h3", "paragraph", "bullet_list", "ordered_list", "html_block"
    line: int
    source: str = ""  # inline Markdown of a heading or paragraph, raw HTML of an html_block
    items: tuple[tuple[int, str], ...] = ()  # list items: (line, inline Markdown)
    nested_list_line: int = 0  # first line of a list inside an item, 0 if none

    def shown(self) -> str:
        """How a problem message quotes this block."""
        if self.items:
            return _shorten(self.items[0][1])
        return _shorten(self.source) or self.kind


class _Problems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Problem] = []

    def report(self, line: int, message: str) -> None:
        self.found.append(Problem(self.path, line, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise DigestError(sorted(self.found, key=lambda problem: problem.line))


def parse_file(path: Path | str, *, display_path: str | None = None) -> Digest:
    """Read and parse one digest file; `display_path` is how errors and the model name it."""
    path = Path(path)
    shown = display_path if display_path is not None else path.as_posix()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DigestError([Problem(shown, 0, f"cannot read the file: {error.strerror}")]) from None
    return parse_bytes(data, shown)


def parse_bytes(data: bytes, path: str) -> Digest:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        message = f"the file is not UTF-8 text (byte {data[error.start]:#04x}); save it as UTF-8"
        raise DigestError([Problem(path, line, message)]) from None
    return parse_text(text, path)


def parse_text(text: str, path: str) -> Digest:
    """Parse digest source; raises DigestError with all problems found, in line order."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = _plain_blocks(text)
    if blocks is None:
        blocks = list(_top_level_blocks(_block_parser().parse(text)))
    if not blocks:
        raise DigestError([Problem(path, 1, "the file is empty; expected a digest")])
    problems = _Problems(path)
    _report_unwritable_characters(text, problems)
    # A missing header is reported once; a first paper heading still counts as a paper.
    header, body = (None, blocks) if blocks[0].kind == "h3" else (blocks[0], blocks[1:])
    date = _parse_header(header, blocks[0].line, problems)
    sections = _split_papers(body, problems)
    papers = [paper for section in sections if (paper := _parse_paper(section, problems))]
    if not sections:
        problems.report(blocks[0].line, 'no papers; expected "### [title](url)" headings')
    problems.raise_if_any()
    assert date is not None  # every way to miss it reported a problem
    return Digest(date=date, papers=tuple(papers), source_path=path)


def _report_unwritable_characters(text: str, problems: _Problems) -> None:
    """One problem for each character no output can carry, at its line and column."""
    for index, character in unwritable_characters(text):
        line_start = text.rfind("\n", 0, index) + 1
        message = f"{character} at column {index - line_start + 1}; delete it"
        problems.report(text.count("\n", 0, index) + 1, message)


def _plain_blocks(text: str) -> list[_Block] | None:
    """The blocks markdown-it finds in a digest written the plain way, read line by line at
    a fraction of its cost: "##"/"###" headings, "- " bullets, paragraphs, blank lines and
    `<div>` HTML blocks. None when a line could be anything else (indented, another list
    marker or HTML, a NUL markdown-it would replace): markdown-it reads that digest. A test
    holds the two readings equal."""
    if "\0" in text:
        return None
    blocks: list[_Block] = []
    paragraph: list[tuple[int, str]] = []  # the open paragraph: (line, text) of each line
    items: list[tuple[int, list[str]]] = []  # the open list: each item's line and lines
    html: list[tuple[int, str]] = []  # the open HTML block's lines
    after_blank = False  # since the list's last item
    for number, line in enumerate(text.split("\n"), start=1):
        if html and line.strip(" \t"):
            html.append((number, line))  # CommonMark §4.6: a <div> block ends at a blank line
            continue
        _end_html(html, blocks, "\n")
        kind, content = _plain_line(line)
        if kind is None:
            return None
        if kind == "text" and items and not after_blank:
            items[-1][1].append(content)  # CommonMark §5.2: a lazy continuation line
            continue
        if kind != "text":
            _end_paragraph(paragraph, blocks)
        if kind not in ("blank", "bullet"):
            _end_list(items, blocks)  # a blank line or the next bullet keeps the list open
        if kind == "blank":
            after_blank = True
        elif kind == "bullet":
            items.append((number, [content]))
            after_blank = False
        elif kind == "text":
            paragraph.append((number, content))
        elif kind == "html":
            html.append((number, content))
        else:
            blocks.append(_Block(kind, number, content.strip()))
    _end_html(html, blocks, "")
    _end_paragraph(paragraph, blocks)
    _end_list(items, blocks)
    return blocks


def _plain_line(line: str) -> tuple[str | None, str]:
    """("blank" | "h2" | "h3" | "bullet" | "text" | "html", its text), or (None, "") for a
    line the plain reading leaves to markdown-it."""
    if not line.strip(" \t"):
        return "blank", ""
    if line.startswith("#"):
        heading = _PLAIN_HEADING.fullmatch(line)
        return (f"h{len(heading['level'])}", heading["text"]) if heading else (None, "")
    if _DIV_LINE.match(line):
        return "html", line
    kind, content = ("bullet", line[2:]) if line.startswith("- ") else ("text", line)
    if not content or _MAY_OPEN_BLOCK.match(content):
        return None, ""
    return kind, content


def _end_html(html: list[tuple[int, str]], blocks: list[_Block], line_end: str) -> None:
    if html:
        source = "\n".join(line for _, line in html) + line_end
        blocks.append(_Block("html_block", html[0][0], source))
        html.clear()


def _end_paragraph(paragraph: list[tuple[int, str]], blocks: list[_Block]) -> None:
    if paragraph:
        source = "\n".join(text for _, text in paragraph).strip()
        blocks.append(_Block("paragraph", paragraph[0][0], source))
        paragraph.clear()


def _end_list(items: list[tuple[int, list[str]]], blocks: list[_Block]) -> None:
    if items:
        texts = tuple((line, "\n".join(lines).strip()) for line, lines in items)
        blocks.append(_Block("bullet_list", items[0][0], items=texts))
        items.clear()


def _top_level_blocks(tokens: Sequence[Token]) -> Iterator[_Block]:
    index = 0
    while index < len(tokens):
        opening = tokens[index]
        end = _closing_index(tokens, index)
        inner = tokens[index + 1 : end]
        line = _line(opening)
        if opening.type == "heading_open":
            yield _Block(opening.tag, line, inner[0].content.strip())
        elif opening.type == "paragraph_open":
            yield _Block("paragraph", line, inner[0].content.strip())
        elif opening.type in ("bullet_list_open", "ordered_list_open"):
            kind = opening.type.removesuffix("_open")
            yield _list_block(kind, line, inner, item_level=opening.level + 1)
        else:  # html_block, the only other block rule left enabled
            yield _Block(opening.type, line, opening.content)
        index = end + 1


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _closing_index(tokens: Sequence[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _list_block(kind: str, line: int, tokens: Sequence[Token], item_level: int) -> _Block:
    """A list with each item's first line and its text as inline Markdown source."""
    items: list[tuple[int, list[str]]] = []
    nested_list_line = 0
    for token in tokens:
        if token.type == "list_item_open" and token.level == item_level:
            items.append((_line(token), []))
        elif token.type.endswith("_list_open") and not nested_list_line:
            nested_list_line = _line(token)
        elif token.type in ("inline", "html_block") and token.content.strip():
            items[-1][1].append(token.content.strip())
    return _Block(
        kind,
        line,
        items=tuple((item_line, " ".join(parts)) for item_line, parts in items),
        nested_list_line=nested_list_line,
    )


def _parse_header(header: _Block | None, line: int, problems: _Problems) -> dt.date | None:
    match = _HEADER.fullmatch(header.source) if header and header.kind == "h2" else None
    if header is None:
        problems.report(line, 'expected "## Daily Papers (YYYY-MM-DD)" before the first paper')
        return None
    if match is None:
        found = header.shown()
        problems.report(line, f'expected "## Daily Papers (YYYY-MM-DD)", found "{found}"')
        return None
    value = match["date"].strip()
    if not _ISO_DATE.fullmatch(value):
        problems.report(line, f'the date "{value}" is not written as YYYY-MM-DD')
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.report(line, f'the date "{value}" does not exist')
        return None


def _split_papers(blocks: Iterable[_Block], problems: _Problems) -> list[list[_Block]]:
    """Group blocks under the `###` heading they follow."""
    sections: list[list[_Block]] = []
    for block in blocks:
        if block.kind == "h3":
            sections.append([block])
        elif sections:
            sections[-1].append(block)
        else:
            problems.report(
                block.line, f'unexpected "{block.shown()}" before the first paper heading'
            )
    return sections


@dataclass
class _PaperFields:
    thumbnail_url: str | None = None
    video_url: str | None = None
    votes: int | None = None
    authors: tuple[str, ...] = ()
    authors_truncated: bool = False
    bullets: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # "vote", "authors", "bullets", …


_REQUIRED = (
    ("vote", '"Vote: <number>" line'),
    ("authors", '"Authors: …" line'),
    ("bullets", 'summary bullets ("- " lines)'),
)


def _parse_paper(section: list[_Block], problems: _Problems) -> Paper | None:
    heading, body = section[0], section[1:]
    problems_before = len(problems.found)
    link_and_title = _paper_link(heading, problems)
    name = f'"{_shorten(link_and_title[1])}"' if link_and_title else "this paper"
    fields = _PaperFields()
    for block in body:
        _read_paper_block(block, fields, problems)
    for kind, what in _REQUIRED:
        if kind not in fields.seen:
            problems.report(heading.line, f"{name} has no {what}")
    if len(problems.found) != problems_before:
        return None
    assert link_and_title is not None and fields.votes is not None
    link, title = link_and_title
    arxiv = _ARXIV.match(link)
    return Paper(
        title=title,
        link=link,
        arxiv_id=arxiv["id"] if arxiv else None,
        thumbnail_url=fields.thumbnail_url,
        video_url=fields.video_url,
        votes=fields.votes,
        authors=fields.authors,
        authors_truncated=fields.authors_truncated,
        bullets=tuple(fields.bullets),
        line=heading.line,
    )


def _read_paper_block(block: _Block, fields: _PaperFields, problems: _Problems) -> None:
    """Fill `fields` from one block under a paper heading, or report why it does not fit."""
    if block.kind == "paragraph" and _VOTE_LIKE.match(block.source):
        fields.seen.add("vote")
        fields.votes = _parse_votes(block, problems)
    elif block.kind == "paragraph" and _AUTHORS_LIKE.match(block.source):
        fields.seen.add("authors")
        fields.authors, fields.authors_truncated = _parse_authors(block, problems)
    elif block.kind == "bullet_list":
        fields.seen.add("bullets")
        fields.bullets.extend(_bullets(block, problems))
    elif block.kind == "paragraph" and (media := _media(block.source)) is not None:
        kind, url = media
        if not _is_web_url(url):
            problems.report(block.line, f'the {kind} must be an http(s) URL, found "{url}"')
        elif kind == "thumbnail":
            fields.thumbnail_url = url
        else:
            fields.video_url = url
    elif block.kind == "html_block" and _VIDEO_BLOCK.fullmatch(block.source):
        source = _VIDEO_SRC.search(block.source)
        if source is None or not _is_web_url(source[1]):
            problems.report(block.line, 'the <video> block needs src="https://…"')
        elif fields.video_url is None:
            fields.video_url = source[1]
    elif block.kind == "html_block":
        problems.report(
            block.line,
            "raw HTML is not allowed; only a video block "
            '<div><video controls src="https://…"></video></div> may follow a video link',
        )
    else:
        problems.report(
            block.line,
            f'unexpected "{block.shown()}" in a paper; expected a thumbnail "![](https://…)", '
            '"Vote: <number>", "Authors: …" or "- " bullet lines',
        )


def _inline_state(source: str) -> StateInline:
    """Inline tokens of one heading or paragraph (`state.tokens`), keeping the parser state so
    a second look at the source reuses its cache; skips the core pipeline parseInline runs."""
    from markdown_it.rules_inline import StateInline

    parser = _inline_parser()
    state = StateInline(source, parser, {}, [])
    parser.inline.tokenize(state)
    for rule in parser.inline.ruler2.getRules(""):
        rule(state)
    return state


def _paper_link(heading: _Block, problems: _Problems) -> tuple[str, str] | None:
    """(link, title) from `### [title](url)`; the title is plain text, not Markdown."""
    link_and_label = _commonmark_link(heading.source) or _unbalanced_link(heading.source)
    if link_and_label is None:
        problems.report(
            heading.line,
            f'a paper heading must be a link "### [title](https://…)", found "{heading.shown()}"',
        )
        return None
    link, label = link_and_label
    title = " ".join(_MARKDOWN_ESCAPE.sub(r"\1", label).split())
    if not title:
        problems.report(heading.line, "the paper heading has an empty title: [](…)")
        return None
    if not _is_web_url(link):
        problems.report(heading.line, f'the paper link must be an http(s) URL, found "{link}"')
        return None
    return link, title


def _commonmark_link(source: str) -> tuple[str, str] | None:
    """(url, link text source) when the heading is exactly one CommonMark link."""
    plain = _PLAIN_LINK.fullmatch(source)
    if plain:
        return plain["url"], plain["text"]
    return _parsed_link(source)


def _parsed_link(source: str) -> tuple[str, str] | None:
    state = _inline_state(source)
    tokens = state.tokens
    is_one_link = (
        len(tokens) >= 2
        and tokens[0].type == "link_open"
        and tokens[-1].type == "link_close"
        and sum(token.type == "link_open" for token in tokens) == 1
    )
    if not is_one_link:
        return None
    # CommonMark finds where the link text ends (brackets may nest, code spans or escapes
    # may hide a "]"); the state's cache makes this second scan cheap.
    from markdown_it.helpers import parseLinkLabel

    label_end = parseLinkLabel(state, 0)
    return str(tokens[0].attrs.get("href", "")), source[1:label_end]


def _unbalanced_link(source: str) -> tuple[str, str] | None:
    """(url, TEXT) for `[TEXT](URL)` whose TEXT has unbalanced brackets, which CommonMark
    does not read as one link: digest generators copy titles such as "[Your Transformer ]
    is Secretly [Linear" unescaped. TEXT holding "](" would be two links: still an error."""
    match = _BRACKETED_HEADING.fullmatch(source)
    if match is None or "](" in match["text"] or _brackets_balance(match["text"]):
        return None
    return match["url"], match["text"]


def _brackets_balance(text: str) -> bool:
    depth = 0
    for character in _MARKDOWN_ESCAPE.sub("", text):
        depth += {"[": 1, "]": -1}.get(character, 0)
        if depth < 0:
            return False
    return depth == 0


def _media(source: str) -> tuple[str, str] | None:
    """("thumbnail", src) for `![](src)`, ("video", href) for `[Watch Video](….mp4)`."""
    if not source.startswith(("![", "[")):
        return None
    plain = _PLAIN_IMAGE.fullmatch(source)
    if plain:
        return "thumbnail", plain["url"]
    return _parsed_media(source)


def _parsed_media(source: str) -> tuple[str, str] | None:
    tokens = [t for t in _inline_state(source).tokens if t.type != "text" or t.content.strip()]
    if len(tokens) == 1 and tokens[0].type == "image":
        return "thumbnail", str(tokens[0].attrs.get("src", ""))
    if len(tokens) == 3 and tokens[0].type == "link_open" and tokens[2].type == "link_close":
        href = str(tokens[0].attrs.get("href", ""))
        if "video" in tokens[1].content.lower() or _VIDEO_FILE.search(href):
            return "video", href
    return None


def _parse_votes(block: _Block, problems: _Problems) -> int | None:
    match = _VOTE.fullmatch(block.source)
    if match is None:
        problems.report(block.line, f'expected "Vote: <number>", found "{block.shown()}"')
        return None
    value = match["value"].strip()
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_VOTE_DIGITS):
        problems.report(
            block.line,
            f'the vote count must be a whole number 0 or more, found "{_shorten(value)}"',
        )
        return None
    return int(value)


def _parse_authors(block: _Block, problems: _Problems) -> tuple[tuple[str, ...], bool]:
    match = _AUTHORS.fullmatch(block.source)
    if match is None:
        problems.report(block.line, f'expected "Authors: name, name, …", found "{block.shown()}"')
        return (), False
    names = [" ".join(name.split()) for name in match["value"].split(",")]
    truncated = _AUTHOR_ELISION in names
    authors = tuple(name for name in names if name and name != _AUTHOR_ELISION)
    if not authors:
        problems.report(block.line, 'the "Authors:" line names nobody')
    return authors, truncated


def _bullets(block: _Block, problems: _Problems) -> list[str]:
    if block.nested_list_line:
        problems.report(
            block.nested_list_line, 'a nested list; summary bullets are one level of "- " lines'
        )
    bullets = []
    for line, source in block.items:
        if source:
            bullets.append(source)
        else:
            problems.report(line, 'an empty "- " bullet')
    return bullets


def _is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _shorten(text: str, limit: int = 60) -> str:
    """`text` on one line, cut at `limit` characters, control characters escaped."""
    text = " ".join(text.split())
    return printable(text if len(text) <= limit else text[: limit - 1] + "…")


def find_digest_files(paths: Iterable[Path]) -> list[Path]:
    """Digest files named on the command line or found directly inside named folders, each
    once (a file named twice is not two digests of the same day)."""
    found: dict[str, Path] = {}  # by resolved path
    for path in paths:
        if path.is_dir():
            # One resolve per folder, not per file: a folder of years of digests is large.
            folder = str(path.resolve())
            # Names sorted as strings: the order Path sorting gives, at a tenth of the cost.
            names = [n for n in os.listdir(path) if os.path.splitext(n)[1] in DIGEST_SUFFIXES]
            for name in sorted(names):
                key = f"{folder}/{name}"
                if key not in found:  # not setdefault: no Path made for a file already found
                    found[key] = path / name
        else:
            found.setdefault(str(path.resolve()), path)
    return list(found.values())


def parse_files(paths: Iterable[Path]) -> list[Digest]:
    """Parse every digest, oldest first; one DigestError lists the problems of all files,
    including two files with the same date."""
    problems: list[Problem] = []
    digests: list[Digest] = []
    for path in find_digest_files(paths):
        try:
            digests.append(parse_file(path))
        except DigestError as error:
            problems.extend(error.problems)
    problems.extend(duplicate_date_problems(digests))
    if problems:
        raise DigestError(problems)
    return sorted(digests, key=lambda digest: digest.date)


def duplicate_date_problems(digests: Iterable[Digest]) -> list[Problem]:
    """One digest per day: every later file with an earlier file's date is a problem."""
    problems = []
    first_by_date: dict[dt.date, Digest] = {}
    for digest in digests:
        if (first := first_by_date.setdefault(digest.date, digest)) is not digest:
            message = f"the date {digest.date} is already used by {first.source_path}"
            problems.append(Problem(digest.source_path, 1, message + "; one digest per day"))
    return problems
