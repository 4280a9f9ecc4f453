"""Jinja2 environment: the user's template folder first, then the built-in templates."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.config import Settings
from newsletter.model import Paper

if TYPE_CHECKING:  # jinja2 is imported when a template is first rendered
    import jinja2

_PACKAGE = Path(__file__).resolve().parent
AUTHORS_SHOWN = 5  # the authors an email, a feed entry or a web page names before "외 N명"


def builtin_templates_dir() -> Path:
    """Inside an installed wheel the templates ship as `newsletter/_templates`; in a source
    checkout they are the top-level `templates/`."""
    installed = _PACKAGE / "_templates"
    return installed if installed.is_dir() else _PACKAGE.parent / "templates"


def template_folders(user_dir: str) -> list[Path]:
    """Where templates are looked up, in order: the user's folder, then the built-in one."""
    user = [Path(user_dir)] if user_dir else []
    return [*user, builtin_templates_dir()]


def template_bytes(settings: Settings, name: str) -> bytes:
    """A binary file shipped with the templates (an icon), from the user's folder first."""
    for folder in template_folders(settings.templates_dir):
        if (folder / name).is_file():
            return (folder / name).read_bytes()
    raise FileNotFoundError(
        f"no {name} in {', '.join(map(str, template_folders(settings.templates_dir)))}"
    )


def environment(settings: Settings) -> jinja2.Environment:
    return _environment(settings.templates_dir)


def reload_templates() -> None:
    """Read the templates afresh from here on: each build starts with this, so a template
    edited between two builds in one process is seen by the second."""
    _environment.cache_clear()


@lru_cache(maxsize=8)
def _environment(user_dir: str) -> jinja2.Environment:
    import jinja2
    from markupsafe import Markup

    from newsletter.markup import inline_html, inline_text

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_folders(user_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[_unindented_site_pages()],
        bytecode_cache=_bytecode_cache(),
        # A template is read once until reload_templates(): checking its mtime on every
        # render was 20 stat calls an issue.
        auto_reload=False,
    )
    env.filters["inline_html"] = lambda source: Markup(inline_html(source))
    env.filters["inline_text"] = inline_text
    env.filters["author_line"] = author_line
    env.globals["weekday"] = weekday
    env.globals["authors_shown"] = AUTHORS_SHOWN
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's compiled templates, kept between runs (compiling them is a quarter of a +1
    build). In Jinja's own per-user folder (mode 0700, checked by Jinja), never in the build
    cache: that one is restored from Actions caches and must hold data, not code. Jinja
    keys each entry by the template's source checksum and its own version, not by the
    environment's options or extensions, which this module sets: its own hash names the
    entries, so a change here compiles every template again."""
    import jinja2

    this_module = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    try:
        return jinja2.FileSystemBytecodeCache(pattern=f"__newsletter_{this_module}_%s.cache")
    except (RuntimeError, OSError):  # no safe private folder: compile every run
        return None


_LINE_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def is_builtin_site_page(name: str, filename: str | None) -> bool:
    """A web page template shipped with the tool (not the user's, not a style sheet)."""
    builtin = builtin_templates_dir()
    return (
        name.startswith("site/")
        and name.endswith(".html")
        and filename is not None
        and Path(filename).is_relative_to(builtin)
    )


def _unindented_site_pages() -> type[jinja2.ext.Extension]:
    import jinja2.ext

    class UnindentedSitePages(jinja2.ext.Extension):
        """The built-in site templates are indented for their reader; the pages need not be
        (~6% of an issue page). CSS Text 3 §4.1.1: spaces and tabs after a line break are
        removed before rendering unless `white-space` preserves them (<pre>, <textarea>, pre,
        pre-wrap, break-spaces: no built-in site page has any, tests/test_site.py checks).
        Only template text loses them, never a digest's; the user's templates stay as written.
        """

        def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
            if name is not None and is_builtin_site_page(name, filename):
                return _LINE_INDENT.sub("", source)
            return source

    return UnindentedSitePages


# Labels are Korean, like the digests; a user template can word them otherwise.
_WEEKDAYS = "월화수목금토일"


def weekday(date: dt.date) -> str:
    """The one-letter Korean weekday: 월 for Monday … 일 for Sunday."""
    return _WEEKDAYS[date.weekday()]


def author_line(paper: Paper, shown: int = AUTHORS_SHOWN) -> str:
    """The first authors, then "외 N명" for the rest; "등" when the digest itself cut the
    list short ("+") and the number left out is unknown."""
    names = ", ".join(paper.authors[:shown])
    hidden = len(paper.authors) - shown
    if hidden > 0:
        return f"{names} 외 {hidden}명"
    return f"{names} 등" if paper.authors_truncated else names
