"""Jinja2 environment: the user's template folder first, then the built-in templates."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from newsletter.config import Settings
from newsletter.markup import inline_html, inline_text

_PACKAGE = Path(__file__).resolve().parent


def builtin_templates_dir() -> Path:
    """Inside an installed wheel the templates ship as `newsletter/_templates`; in a source
    checkout they are the top-level `templates/`."""
    installed = _PACKAGE / "_templates"
    return installed if installed.is_dir() else _PACKAGE.parent / "templates"


def environment(settings: Settings) -> jinja2.Environment:
    return _environment(settings.templates_dir)


@lru_cache(maxsize=8)
def _environment(user_dir: str) -> jinja2.Environment:
    search_path = [user_dir] if user_dir else []
    search_path.append(str(builtin_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline_html"] = lambda source: Markup(inline_html(source))
    env.filters["inline_text"] = inline_text
    return env


def template_fingerprint(settings: Settings) -> str:
    """Every template's name and bytes, for cache keys: a changed template rebuilds."""
    digest = hashlib.sha256()
    folders = [Path(settings.templates_dir)] if settings.templates_dir else []
    folders.append(builtin_templates_dir())
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()
