"""The `newsletter` command: parse options, call one function, print, set the exit code.

Exit codes: 0 success, 1 a problem in the user's input, 2 a usage error (typer's own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from newsletter import build as build_module
from newsletter.config import load_settings
from newsletter.errors import DigestError, NewsletterError
from newsletter.model import digest_as_dict
from newsletter.parse import parse_file, parse_files

app = typer.Typer(
    help="Feeds, email issues and a web archive from daily paper digests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SeedsOption = Annotated[Path, typer.Option("--seeds", help="Folder of digest files.")]
OutputOption = Annotated[Path, typer.Option("--output", help="Folder the site is written to.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default: ./newsletter.toml).")
]
DEFAULT_SEEDS = Path("seeds")

BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="Absolute URL the site is published at.")
]


def fail(error: NewsletterError) -> typer.Exit:
    typer.echo(str(error), err=True)
    return typer.Exit(1)


DigestPaths = Annotated[
    list[Path] | None,
    typer.Argument(help="Digest files or folders (default: seeds/).", exists=True),
]
DigestFile = Annotated[Path, typer.Argument(help="One digest file.", exists=True, dir_okay=False)]


@app.command()
def check(paths: DigestPaths = None) -> None:
    """Check digests; print a summary per digest, or every problem as path:line: message."""
    if not paths and not DEFAULT_SEEDS.is_dir():
        typer.echo(f"{DEFAULT_SEEDS}: no such folder of digests; name files or folders", err=True)
        raise typer.Exit(1)
    try:
        digests = parse_files(paths or [DEFAULT_SEEDS])
    except DigestError as error:
        raise fail(error) from None
    if not digests:
        typer.echo("no digest files (*.txt, *.md) found", err=True)
        raise typer.Exit(1)
    for digest in digests:
        typer.echo(
            f"{digest.source_path}: {digest.date} · {len(digest.papers)} papers · "
            f"{digest.total_votes} votes"
        )


@app.command()
def parse(
    file: DigestFile,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parsed model as JSON (stable key order).")
    ] = False,
) -> None:
    """Show what the parser understood of one digest."""
    try:
        digest = parse_file(file)
    except DigestError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(digest_as_dict(digest), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{digest.date}: {len(digest.papers)} papers, {digest.total_votes} votes")
    for paper in digest.papers:
        typer.echo(f"  {paper.votes:>4}  {paper.title}")


@app.command()
def build(
    seeds: SeedsOption = Path("seeds"),
    output: OutputOption = Path("public"),
    base_url: BaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Build feeds, email issues and the web archive from the digests."""
    try:
        settings = load_settings(config, base_url=base_url)
        if not seeds.is_dir():
            typer.echo(f"{seeds}: no such folder of digests", err=True)
            raise typer.Exit(1)
        report = build_module.build(seeds, output, settings)
    except NewsletterError as error:
        raise fail(error) from None
    typer.echo(f"built {report.issues} issues ({report.files} files) into {output}")
