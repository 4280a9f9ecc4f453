"""Markdown digest → `Digest`, or a `DigestError` listing every problem with its line.

The digest is read with markdown-it-py's block token stream, whose `map` gives each block's
source lines; every check below names the line the maintainer has to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from newsletter.errors import DigestError, Problem
from newsletter.model import Digest, Paper

# html=True so the seeds' raw <div><video> block arrives as one html_block token we can check.
# The block pass skips inline parsing (half the time); only headings and media lines need it.
_BLOCK_PARSER = MarkdownIt("commonmark", {"html": True}).disable(["inline", "text_join"])
_INLINE_PARSER = MarkdownIt("commonmark", {"html": True})

_HEADER = re.compile(r"Daily Papers \((?P<date>[^)]*)\)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_VOTE = re.compile(r"Vote:\s*(?P<value>.*)")
_VOTE_LIKE = re.compile(r"votes?\b", re.IGNORECASE)
_AUTHORS = re.compile(r"Authors?:\s*(?P<value>.*)", re.DOTALL)
_AUTHORS_LIKE = re.compile(r"authors?\b", re.IGNORECASE)
_ARXIV = re.compile(r"^https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/(?P<id>\d{4}\.\d{4,5})(?:v\d+)?")
_VIDEO_SRC = re.compile(r"""<video\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_VIDEO_BLOCK = re.compile(r"\s*<div>\s*<video\b[^>]*>\s*</video>\s*</div>\s*", re.IGNORECASE)
_VIDEO_FILE = re.compile(r"\.(?:mp4|webm|mov|m4v)(?:[?#].*)?$", re.IGNORECASE)
# CommonMark §2.4: a backslash before ASCII punctuation escapes it
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_AUTHOR_ELISION = "+"


@dataclass
class _Block:
    """One top-level block of the digest: its kind, first line (1-based) and tokens."""

    kind: str  # "h2", "h3", "paragraph", "bullet_list", "html", or another token type
    line: int
    inline: Token | None = None
    items: list[tuple[int, str]] = field(default_factory=list)  # list items: (line, source)
    html: str = ""

    @property
    def children(self) -> list[Token]:
        if self.inline is None:
            return []
        return list(_INLINE_PARSER.parseInline(self.inline.content)[0].children or [])

    @property
    def text(self) -> str:
        return self.inline.content.strip() if self.inline is not None else self.html.strip()


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
        raise DigestError(
            [Problem(path, line, f"the file is not UTF-8 text (byte {data[error.start]:#04x})")]
        ) from None
    return parse_text(text, path)


def parse_text(text: str, path: str) -> Digest:
    """Parse digest source; raises DigestError with all problems found, in line order."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DigestError([Problem(path, 1, "the file is empty; expected a digest")])
    problems = _Problems(path)
    blocks = list(_top_level_blocks(_BLOCK_PARSER.parse(text)))
    date = _parse_header(blocks[0], problems)
    sections = _split_papers(blocks[1:], problems)
    papers = [paper for section in sections if (paper := _parse_paper(section, problems))]
    if not sections:
        problems.report(blocks[0].line, 'no papers; expected "### [title](url)" headings')
    problems.raise_if_any()
    assert date is not None
    return Digest(date=date, papers=tuple(papers), source_path=path)


class _Problems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Problem] = []

    def report(self, line: int, message: str) -> None:
        self.found.append(Problem(self.path, line, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise DigestError(sorted(self.found, key=lambda problem: problem.line))


def _top_level_blocks(tokens: Sequence[Token]) -> Iterator[_Block]:
    index = 0
    while index < len(tokens):
        token = tokens[index]
        line = token.map[0] + 1 if token.map else 0
        if token.type in ("heading_open", "paragraph_open"):
            kind = token.tag if token.type == "heading_open" else "paragraph"
            yield _Block(kind, line, inline=tokens[index + 1])
            index += 3
        elif token.type == "html_block":
            yield _Block("html", line, html=token.content)
            index += 1
        elif token.nesting == 1:  # lists, block quotes: skip to the matching close
            end = _closing_index(tokens, index)
            items = list(_list_items(tokens[index + 1 : end]))
            yield _Block(token.type.removesuffix("_open"), line, items=items)
            index = end + 1
        else:  # fence, code_block, hr
            yield _Block(token.type, line, html=token.content)
            index += 1


def _closing_index(tokens: Sequence[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _list_items(tokens: Sequence[Token]) -> Iterator[tuple[int, str]]:
    """Each list item's first line and its text as inline Markdown source."""
    for index, token in enumerate(tokens):
        if token.type != "list_item_open":
            continue
        line = token.map[0] + 1 if token.map else 0
        parts = []
        for inner in tokens[index + 1 :]:
            if inner.type == "list_item_close" and inner.level == token.level:
                break
            if inner.type == "inline" and inner.content.strip():
                parts.append(inner.content.strip())
        yield line, " ".join(parts)


def _parse_header(block: _Block, problems: _Problems) -> dt.date | None:
    match = _HEADER.fullmatch(block.text) if block.kind == "h2" else None
    if match is None:
        found = _shorten(block.text or block.kind)
        problems.report(block.line, f'expected "## Daily Papers (YYYY-MM-DD)", found "{found}"')
        return None
    value = match["date"].strip()
    if not _ISO_DATE.fullmatch(value):
        problems.report(block.line, f'the date "{value}" is not written as YYYY-MM-DD')
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.report(block.line, f'the date "{value}" does not exist')
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
            found = _shorten(block.text or block.kind)
            problems.report(block.line, f'unexpected "{found}" before the first paper heading')
    return sections


@dataclass
class _PaperFields:
    thumbnail_url: str | None = None
    video_url: str | None = None
    votes: int | None = None
    authors: tuple[str, ...] | None = None
    authors_truncated: bool = False
    bullets: list[str] = field(default_factory=list)


def _parse_paper(section: list[_Block], problems: _Problems) -> Paper | None:
    heading, body = section[0], section[1:]
    problems_before = len(problems.found)
    link_and_title = _paper_link(heading, problems)
    name = f'"{_shorten(link_and_title[1])}"' if link_and_title else "this paper"
    fields = _PaperFields()
    seen_kinds = set()
    for block in body:
        seen_kinds.add(_read_paper_block(block, fields, problems))
    for kind, what in (
        ("vote", '"Vote: <number>" line'),
        ("authors", '"Authors: …" line'),
        ("bullets", 'summary bullets ("- " lines)'),
    ):
        if kind not in seen_kinds:
            problems.report(heading.line, f"{name} has no {what}")
    if len(problems.found) != problems_before:
        return None
    assert link_and_title is not None and fields.votes is not None and fields.authors
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


def _read_paper_block(block: _Block, fields: _PaperFields, problems: _Problems) -> str:
    """Fill `fields` from one block under a paper heading; returns what kind of block it was."""
    if block.kind == "paragraph" and _VOTE_LIKE.match(block.text):
        fields.votes = _parse_votes(block, problems)
        return "vote"
    if block.kind == "paragraph" and _AUTHORS_LIKE.match(block.text):
        fields.authors, fields.authors_truncated = _parse_authors(block, problems)
        return "authors"
    if block.kind == "bullet_list":
        fields.bullets.extend(_bullets(block, problems))
        return "bullets"
    if block.kind == "paragraph" and (media := _media(block)) is not None:
        kind, url = media
        if kind == "image":
            fields.thumbnail_url = url
        else:
            fields.video_url = url
        return "media"
    if block.kind == "html" and _VIDEO_BLOCK.fullmatch(block.html):
        source = _VIDEO_SRC.search(block.html)
        if source and _is_web_url(source[1]):
            fields.video_url = fields.video_url or source[1]
            return "media"
    if block.kind == "html":
        problems.report(
            block.line,
            "raw HTML is not allowed; only a video block "
            '<div><video controls src="https://…"></video></div> may follow a video link',
        )
        return "html"
    found = _shorten(block.text or block.kind)
    problems.report(
        block.line,
        f'unexpected "{found}" in a paper; expected a thumbnail, '
        '"Vote: <number>", "Authors: …" or "- " bullet lines',
    )
    return "unexpected"


def _paper_link(heading: _Block, problems: _Problems) -> tuple[str, str] | None:
    """(link, title) from `### [title](url)`; the title is plain text, not Markdown."""
    children = heading.children
    is_one_link = (
        len(children) >= 2
        and children[0].type == "link_open"
        and children[-1].type == "link_close"
        and sum(child.type == "link_open" for child in children) == 1
    )
    source = heading.text
    if not is_one_link:
        problems.report(
            heading.line,
            f'a paper heading must be a link "### [title](https://…)", found "{_shorten(source)}"',
        )
        return None
    link = str(children[0].attrs.get("href", ""))
    title = _MARKDOWN_ESCAPE.sub(r"\1", source[1 : source.rfind("](")]).strip()
    if not title:
        problems.report(heading.line, "the paper heading has an empty title: [](…)")
        return None
    if not _is_web_url(link):
        problems.report(heading.line, f'the paper link must be an http(s) URL, found "{link}"')
        return None
    return link, title


def _media(block: _Block) -> tuple[str, str] | None:
    """("image", src) for `![](src)`, ("video", href) for `[Watch Video](….mp4)`, else None."""
    children = [c for c in block.children if not (c.type == "text" and not c.content.strip())]
    if len(children) == 1 and children[0].type == "image":
        src = str(children[0].attrs.get("src", ""))
        return ("image", src) if _is_web_url(src) else None
    if len(children) == 3 and children[0].type == "link_open" and children[2].type == "link_close":
        href = str(children[0].attrs.get("href", ""))
        is_video = "video" in children[1].content.lower() or _VIDEO_FILE.search(href)
        return ("video", href) if is_video and _is_web_url(href) else None
    return None


def _parse_votes(block: _Block, problems: _Problems) -> int | None:
    match = _VOTE.fullmatch(block.text)
    if match is None:
        problems.report(block.line, f'expected "Vote: <number>", found "{_shorten(block.text)}"')
        return None
    value = match["value"].strip()
    if not value.isascii() or not value.isdigit():
        problems.report(
            block.line,
            f'the vote count must be a whole number 0 or more, found "{_shorten(value)}"',
        )
        return None
    return int(value)


def _parse_authors(block: _Block, problems: _Problems) -> tuple[tuple[str, ...] | None, bool]:
    match = _AUTHORS.fullmatch(block.text)
    if match is None:
        problems.report(
            block.line, f'expected "Authors: name, name, …", found "{_shorten(block.text)}"'
        )
        return None, False
    names = [" ".join(name.split()) for name in match["value"].split(",")]
    truncated = _AUTHOR_ELISION in names
    authors = tuple(name for name in names if name and name != _AUTHOR_ELISION)
    if not authors:
        problems.report(block.line, 'the "Authors:" line names nobody')
        return None, truncated
    return authors, truncated


def _bullets(block: _Block, problems: _Problems) -> list[str]:
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
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


DIGEST_SUFFIXES = (".txt", ".md")


def find_digest_files(paths: Iterable[Path]) -> list[Path]:
    """Digest files named on the command line or found directly inside named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in DIGEST_SUFFIXES))
        else:
            found.append(path)
    return found


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
