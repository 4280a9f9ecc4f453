"""The `newsletter` command: parse options, call one function, print, set the exit code.

Exit codes: 0 success, 1 a problem in the user's input, 2 a usage error (typer's own).
"""

from __future__ import annotations

import contextlib
import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from newsletter import build as build_module
from newsletter import serve as serve_module
from newsletter.config import load_settings
from newsletter.errors import DigestError, NewsletterError, Problem
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
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="Absolute URL the site is published at.")
]


def fail(error: NewsletterError) -> typer.Exit:
    typer.echo(str(error), err=True)
    return typer.Exit(1)


class CheckFormat(enum.StrEnum):
    text = "text"
    github = "github"


@app.command()
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help="Digest files or folders.")] = None,
    output_format: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            help="How to print problems: text (path:line: message) or github "
            "(workflow commands that GitHub Actions shows as annotations on the file).",
        ),
    ] = CheckFormat.text,
) -> None:
    """Check digests (default: seeds/); print a summary per digest or every problem."""
    try:
        digests = parse_files(paths or [Path("seeds")])
    except DigestError as error:
        if output_format is CheckFormat.github:
            for problem in error.problems:
                typer.echo(github_annotation(problem))
        raise fail(error) from None
    for digest in digests:
        typer.echo(
            f"{digest.source_path}: {digest.date} · {len(digest.papers)} papers · "
            f"{digest.total_votes} votes"
        )
    if not digests:
        typer.echo("no digest files found", err=True)
        raise typer.Exit(1)


def github_annotation(problem: Problem) -> str:
    """`::error file=…,line=…::message`, escaped as the GitHub Actions runner unescapes it
    (actions/toolkit, command.ts: `%`, CR, LF everywhere; also `:` and `,` in properties)."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    return f"::error file={prop(problem.path)},line={problem.line}::{data(problem.message)}"


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="One digest file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parsed model as JSON.")
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


@app.command()
def serve(
    output: OutputOption = Path("public"),
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")
    ] = 8000,
    base_url: BaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Preview the built site on 127.0.0.1, under the base URL's path (Ctrl-C stops)."""
    try:
        settings = load_settings(config, base_url=base_url)
        server = serve_module.preview_server(output, settings, port)
    except NewsletterError as error:
        raise fail(error) from None
    host, actual_port = server.server_address[:2]
    prefix = serve_module.site_prefix(settings)
    typer.echo(f"serving {output} at http://{host!s}:{actual_port}{prefix} (Ctrl-C stops)")
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
