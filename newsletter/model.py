"""The digest model every output is rendered from: plain frozen values, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from functools import cached_property


@dataclass(frozen=True)
class Paper:
    title: str  # plain text, as the maintainer wrote it (Markdown escapes removed)
    link: str
    arxiv_id: str | None
    thumbnail_url: str | None
    video_url: str | None
    votes: int
    authors: tuple[str, ...]
    authors_truncated: bool  # the digest elided some authors with "+"
    bullets: tuple[str, ...]  # inline Markdown source; markup.py renders it
    line: int  # line of the paper's heading in the digest file

    @property
    def anchor(self) -> str:
        """A stable fragment id for this paper within its issue page."""
        if self.arxiv_id:
            return "arxiv-" + self.arxiv_id.replace(".", "-")
        return f"paper-l{self.line}"


@dataclass(frozen=True)
class Digest:
    date: dt.date
    papers: tuple[Paper, ...]  # in file order
    source_path: str  # as given on the command line / relative to the seeds folder

    @cached_property
    def total_votes(self) -> int:
        return sum(paper.votes for paper in self.papers)

    @cached_property
    def top_papers(self) -> tuple[Paper, ...]:
        """Papers by votes, most first; file order breaks ties (sorted() is stable)."""
        return tuple(sorted(self.papers, key=lambda paper: -paper.votes))

    @property
    def headline(self) -> str:
        """`2024-05-22 · <top paper by votes> 외 5편`, plain text: the feed entry's title and,
        prefixed, the email's subject."""
        others = len(self.papers) - 1
        headline = f"{self.slug} · {self.top_papers[0].title}"
        return f"{headline} 외 {others}편" if others else headline

    @property
    def slug(self) -> str:
        return self.date.isoformat()

    def outline(self) -> Digest:
        """The digest without its summary bullets and author lists, which are most of its
        size: enough for the archive index, feed metadata and links between issues (what
        shows bullets or authors renders from the full digest)."""
        return replace(
            self,
            papers=tuple(
                replace(paper, bullets=(), authors=(), authors_truncated=False)
                for paper in self.papers
            ),
        )


_PAPER_FIELD_ORDER = tuple(field.name for field in fields(Paper))
_PAPER_FIELDS = frozenset(_PAPER_FIELD_ORDER)


def digest_as_dict(digest: Digest) -> dict[str, object]:
    """The digest as JSON-ready data, keys in field order (stable across runs)."""
    return {
        "date": digest.date.isoformat(),
        "source_path": digest.source_path,
        "papers": [_paper_as_dict(paper) for paper in digest.papers],
    }


def _paper_as_dict(paper: Paper) -> dict[str, object]:
    # Not dataclasses.asdict: its deep copy was most of a cached build's time spent here.
    data: dict[str, object] = {name: getattr(paper, name) for name in _PAPER_FIELD_ORDER}
    data["authors"], data["bullets"] = list(paper.authors), list(paper.bullets)
    return data


def digest_from_dict(data: object) -> Digest:
    """The inverse of `digest_as_dict`, for data read back from disk: ValueError unless every
    field has the type the model declares."""
    if not isinstance(data, dict) or set(data) != {"date", "source_path", "papers"}:
        raise ValueError("not a digest")
    papers = data["papers"]
    if not isinstance(papers, list) or not isinstance(data["source_path"], str):
        raise ValueError("not a digest")
    return Digest(
        date=dt.date.fromisoformat(_typed(data["date"], str)),
        papers=tuple(_paper_from_dict(paper) for paper in papers),
        source_path=data["source_path"],
    )


def _paper_from_dict(data: object) -> Paper:
    # Field by field, without loops: this runs for every paper of the archive on every build.
    if not isinstance(data, dict) or data.keys() != _PAPER_FIELDS:
        raise ValueError("not a paper")
    authors, bullets = data["authors"], data["bullets"]
    if not (
        type(data["title"]) is str
        and type(data["link"]) is str
        and _optional_text(data["arxiv_id"])
        and _optional_text(data["thumbnail_url"])
        and _optional_text(data["video_url"])
        and type(data["votes"]) is int
        and type(authors) is list
        and all(type(author) is str for author in authors)
        and type(data["authors_truncated"]) is bool
        and type(bullets) is list
        and all(type(bullet) is str for bullet in bullets)
        and type(data["line"]) is int
    ):
        raise ValueError("a paper field has the wrong type")
    return Paper(
        data["title"],
        data["link"],
        data["arxiv_id"],
        data["thumbnail_url"],
        data["video_url"],
        data["votes"],
        tuple(authors),
        data["authors_truncated"],
        tuple(bullets),
        data["line"],
    )


def _optional_text(value: object) -> bool:
    return value is None or type(value) is str


def _typed(value: object, kind: type[str]) -> str:
    if not isinstance(value, kind):
        raise ValueError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def outline_as_row(digest: Digest) -> list[object]:
    """The digest's outline (no bullets) as compact JSON-ready data, positional rather than
    keyed: the build cache keeps one per digest of the archive and reads all of them on
    every build. `[date, [[title, link, arxiv_id, thumbnail_url, video_url, votes, line],
    …]]`. No source path: the cache keys a digest by its bytes alone, wherever the file is
    found, so the path is given back on load."""
    papers = [
        [p.title, p.link, p.arxiv_id, p.thumbnail_url, p.video_url, p.votes, p.line]
        for p in digest.papers
    ]
    return [digest.date.isoformat(), papers]


def outline_from_row(row: object, source_path: str) -> Digest:
    """The inverse of `outline_as_row`: ValueError unless every field has its type."""
    if not isinstance(row, list) or len(row) != 2:
        raise ValueError("not a digest outline")
    date, papers = row
    if type(date) is not str or type(papers) is not list:
        raise ValueError("not a digest outline")
    return Digest(dt.date.fromisoformat(date), tuple(map(_paper_from_row, papers)), source_path)


def _paper_from_row(row: object) -> Paper:
    if type(row) is not list or len(row) != 7:
        raise ValueError("not a paper outline")
    title, link, arxiv_id, thumbnail_url, video_url, votes, line = row
    if not (
        type(title) is str
        and type(link) is str
        and _optional_text(arxiv_id)
        and _optional_text(thumbnail_url)
        and _optional_text(video_url)
        and type(votes) is int
        and type(line) is int
    ):
        raise ValueError("a paper field has the wrong type")
    return Paper(title, link, arxiv_id, thumbnail_url, video_url, votes, (), False, (), line)
