"""The digest model every output is rendered from: plain frozen values, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
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
        """The digest without its summary bullets, which are most of its size: enough for
        the archive index, feed metadata and links between issues."""
        return replace(self, papers=tuple(replace(paper, bullets=()) for paper in self.papers))


def digest_as_dict(digest: Digest) -> dict[str, object]:
    """The digest as JSON-ready data, keys in field order (stable across runs)."""
    return {
        "date": digest.date.isoformat(),
        "source_path": digest.source_path,
        "papers": [
            {**asdict(paper), "authors": list(paper.authors), "bullets": list(paper.bullets)}
            for paper in digest.papers
        ],
    }


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


_PAPER_FIELDS = {
    "title": (str,),
    "link": (str,),
    "arxiv_id": (str, type(None)),
    "thumbnail_url": (str, type(None)),
    "video_url": (str, type(None)),
    "votes": (int,),
    "authors": (list,),
    "authors_truncated": (bool,),
    "bullets": (list,),
    "line": (int,),
}


def _paper_from_dict(data: object) -> Paper:
    if not isinstance(data, dict) or data.keys() != _PAPER_FIELDS.keys():
        raise ValueError("not a paper")
    for name, types in _PAPER_FIELDS.items():
        if type(data[name]) not in types:
            raise ValueError(f"a paper's {name} is not a {types[0].__name__}")
    for name in ("authors", "bullets"):
        if not all(type(item) is str for item in data[name]):
            raise ValueError(f"a paper's {name} are not all text")
    return Paper(**{**data, "authors": tuple(data["authors"]), "bullets": tuple(data["bullets"])})


def _typed(value: object, kind: type[str]) -> str:
    if not isinstance(value, kind):
        raise ValueError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value
