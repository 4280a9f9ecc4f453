"""The `newsletter` command: parse options, call one function, print, set the exit code.

Exit codes: 0 success, 1 a problem in the user's input, 2 a usage error (typer's own).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter import __version__
from newsletter import init as init_module
from newsletter.cache import CACHE_DIR_ENV, DEFAULT_CACHE_DIR
from newsletter.config import (
    CONFIG_FILE,
    PLACEHOLDER_SETTINGS,
    SETTING_HELP,
    Settings,
    load_settings,
    placeholder_warnings,
    settings_from,
)
from newsletter.errors import DigestError, NewsletterError, Problem, SendError
from newsletter.model import digest_as_dict
from newsletter.privacy import shown_address

# The commands import what they need when they run (the parser, the build, SMTP), so
# starting one command does not pay for the others' libraries.
if TYPE_CHECKING:
    from types import ModuleType

    from newsletter import send as send_module
    from newsletter.mailing.commands import Cadence
    from newsletter.mailing.sync import SyncReport


def _list_owner() -> ModuleType:
    """The mailing list's commands (IMAP, letters), imported only by the commands using it."""
    from newsletter.mailing import owner

    return owner


app = typer.Typer(
    help="Feeds, email issues and a web archive from daily paper digests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"newsletter {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass  # the options above are the whole of it; typer calls this before any command


SeedsOption = Annotated[Path, typer.Option("--seeds", help="Folder of digest files.")]
OutputOption = Annotated[Path, typer.Option("--output", help="Folder the site is written to.")]
OutboxOption = Annotated[
    Path,
    typer.Option("--outbox", help="Folder the email editions are written to (not deployed)."),
]
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


class CheckFormat(enum.StrEnum):
    text = "text"
    github = "github"


# No `exists=True`: a missing file is a problem in the user's input (exit 1, reported as
# `path: message` by the parser), not a usage error (typer's exit 2).
DigestPaths = Annotated[
    list[Path] | None, typer.Argument(help="Digest files or folders (default: seeds/).")
]
DigestFile = Annotated[Path, typer.Argument(help="One digest file.")]


NewConfigOption = Annotated[Path, typer.Option("--config", help="The settings file to write.")]
# What `init` asks when it cannot guess it, and only on a terminal: scripts pass options.
INIT_QUESTIONS = {
    "base_url": "Where will the site be published (its https:// URL)?",
    "email_from": "Which address sends the email issues (e.g. Name <you@example.org>)?",
}


@app.command()
def init(
    config: NewConfigOption = Path(CONFIG_FILE),
    base_url: BaseUrlOption = None,
    email_from: Annotated[
        str | None, typer.Option("--email-from", help="Sender of the email issues.")
    ] = None,
) -> None:
    """Write a commented newsletter.toml with every setting and its default.

    base_url and feed_id_authority are guessed from a GitHub `origin` remote; on a terminal
    it asks only for what it could not guess (an empty answer keeps the default).
    """
    if config.exists():
        raise fail(NewsletterError(f"{config}: already exists; not overwritten"))
    remote, year = init_module.origin_remote_url(Path.cwd()), dt.date.today().year
    options = (("base_url", base_url), ("email_from", email_from))
    answers = {name: value for name, value in options if value is not None}
    values, notes = init_module.starter_values(remote, year, answers)
    if sys.stdin.isatty():
        for name, question in INIT_QUESTIONS.items():
            if name not in values and (answer := typer.prompt(question, default="").strip()):
                answers[name] = answer
        values, notes = init_module.starter_values(remote, year, answers)
    try:
        settings_from(values, config)
        init_module.write_new_file(config, init_module.starter_config(values, notes))
    except NewsletterError as error:
        raise fail(error) from None
    typer.echo(f"wrote {config}: every setting, with its default and what it is for")
    for name, value in values.items():
        typer.echo(f"  {name} = {init_module.toml_value(value)}  ({notes.get(name, 'given')})")
    for name in PLACEHOLDER_SETTINGS:
        if name not in values:
            typer.echo(f"before publishing, set {name} in {config}: {SETTING_HELP[name]}")


@app.command()
def check(
    paths: DigestPaths = None,
    output_format: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            help="How to print problems: text (path:line: message) or github "
            "(workflow commands that GitHub Actions shows as annotations on the file).",
        ),
    ] = CheckFormat.text,
) -> None:
    """Check digests; print a summary per digest, or every problem as path:line: message."""
    from newsletter.parse import parse_files

    if not paths and not DEFAULT_SEEDS.is_dir():
        typer.echo(f"{DEFAULT_SEEDS}: no such folder of digests; name files or folders", err=True)
        raise typer.Exit(1)
    try:
        digests = parse_files(paths or [DEFAULT_SEEDS])
    except DigestError as error:
        if output_format is CheckFormat.github:
            for problem in error.problems:
                typer.echo(github_annotation(problem))
        raise fail(error) from None
    if not digests:
        typer.echo("no digest files (*.txt, *.md) found", err=True)
        raise typer.Exit(1)
    for digest in digests:
        typer.echo(
            f"{digest.source_path}: {digest.date} · {counted(len(digest.papers), 'paper')} · "
            f"{counted(digest.total_votes, 'vote')}"
        )


def counted(number: int, noun: str) -> str:
    """`1 paper`, `2 papers`: a count with its noun in English's singular or plural."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


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
    file: DigestFile,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parsed model as JSON (stable key order).")
    ] = False,
) -> None:
    """Show what the parser understood of one digest."""
    from newsletter.parse import parse_file

    try:
        digest = parse_file(file)
    except DigestError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(digest_as_dict(digest), ensure_ascii=False, indent=2))
        return
    papers, votes = counted(len(digest.papers), "paper"), counted(digest.total_votes, "vote")
    typer.echo(f"{digest.date}: {papers}, {votes}")
    for paper in digest.papers:
        typer.echo(f"  {paper.votes:>4}  {paper.title}")


@app.command()
def weeks(seeds: SeedsOption = DEFAULT_SEEDS) -> None:
    """List the finished weeks (YYYY-Www, oldest first): those with a weekly edition."""
    if not seeds.is_dir():
        typer.echo(f"{seeds}: no such folder of digests", err=True)
        raise typer.Exit(1)
    from newsletter import weekly
    from newsletter.parse import parse_files

    try:
        digests = parse_files([seeds])
    except DigestError as error:
        raise fail(error) from None

    for week in weekly.finished_weeks(digests):
        typer.echo(week.week.slug)


@app.command()
def build(
    seeds: SeedsOption = Path("seeds"),
    output: OutputOption = Path("public"),
    outbox: OutboxOption = Path("outbox"),
    base_url: BaseUrlOption = None,
    config: ConfigOption = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            envvar=CACHE_DIR_ENV,
            help=f"Build cache folder (default {DEFAULT_CACHE_DIR}); safe to delete.",
        ),
    ] = None,
    search: Annotated[
        bool,
        typer.Option(
            "--search/--no-search",
            help="Index the issue pages for the site's search page (Pagefind).",
        ),
    ] = True,
) -> None:
    """Build feeds and the web archive into --output, email issues into --outbox."""
    from newsletter import build as build_module

    if not seeds.is_dir():
        typer.echo(f"{seeds}: no such folder of digests", err=True)
        raise typer.Exit(1)
    try:
        settings = load_settings(config, base_url=base_url)
        for warning in placeholder_warnings(settings):
            typer.echo(warning, err=True)
        with _progress_bar("building") as progress:
            report = build_module.build(
                seeds,
                output,
                settings,
                outbox_dir=outbox,
                cache_dir=cache_dir,
                progress=progress,
                with_search=search,
            )
    except NewsletterError as error:
        raise fail(error) from None
    typer.echo(
        f"built {counted(report.issues, 'issue')} into {output} and {outbox}: "
        f"{report.rendered} rendered, "
        f"{report.reused} reused, {report.seconds:.2f} s"
    )
    # The command ends the process: what the build left is moved out of the garbage
    # collector's sight, so the collections on the way out do not walk it (0.1 s a build).
    gc.freeze()


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (stderr); nothing when output goes to a file or CI log."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@app.command()
def send(
    date: Annotated[
        str,
        typer.Argument(
            help="The built issue to send: YYYY-MM-DD (daily) or YYYY-Www (weekly edition)."
        ),
    ],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A recipient; repeat for several.")
    ] = None,
    recipients: Annotated[
        Path | None,
        typer.Option("--recipients", help="File with one address per line (# comments)."),
    ] = None,
    subscribers: Annotated[
        bool,
        typer.Option(
            "--subscribers",
            help="Also everyone subscribed through the list's mailbox (NEWSLETTER_IMAP_*) "
            "to this cadence: daily for a date, weekly for a week.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would get what; connect to nothing.")
    ] = False,
    outbox: OutboxOption = Path("outbox"),
    ledger: Annotated[
        Path, typer.Option("--ledger", help="Delivery ledger that makes re-runs safe.")
    ] = Path(".newsletter/deliveries.log"),
    config: ConfigOption = None,
) -> None:
    """Send a built issue or weekly edition over SMTP, one copy per recipient, skipping those
    already reached.

    The server comes from the environment: NEWSLETTER_SMTP_HOST, NEWSLETTER_SMTP_PORT,
    NEWSLETTER_SMTP_USER, NEWSLETTER_SMTP_PASSWORD, NEWSLETTER_SMTP_TLS (none|starttls|ssl).
    Each copy's unsubscribe link is the configured unsubscribe_url plus `?address=<address>`;
    with NEWSLETTER_LIST_SECRET set, that link and the unsubscribe mailto carry the
    recipient's token.
    """
    from newsletter import send as send_module

    try:
        settings = load_settings(config)
        the_ledger = send_module.Ledger(ledger)
        from newsletter.mailing.records import cadence_of
        from newsletter.mailing.tokens import tokens_from_env

        tokens = tokens_from_env(os.environ) if subscribers else None
        if tokens is None and os.environ.get("NEWSLETTER_LIST_SECRET"):
            tokens = tokens_from_env(os.environ)
        listed = (
            [r.address for r in _list_owner().subscribers(settings, os.environ, cadence_of(date))]
            if subscribers
            else []
        )
        plan = send_module.plan(outbox, date, to or [], recipients, the_ledger, listed)
        if dry_run:
            _print_dry_run(plan)
            return
        smtp = send_module.smtp_settings_from_env(os.environ)
        sender = send_module.Sender(
            smtp,
            the_ledger,
            rate=settings.send_rate,
            envelope_sender=settings.list_mailbox,
            unsubscribe_token=tokens.unsubscribe if tokens else None,
        )
        report = _deliver_with_progress(sender, plan)
    except NewsletterError as error:
        raise fail(error) from None
    _print_report(report, plan)
    if not report.everyone_reached:
        raise fail(SendError(f"{date}: not every recipient was reached; run send again to retry"))


def _print_dry_run(plan: send_module.Plan) -> None:
    issue = plan.issue
    host = os.environ.get("NEWSLETTER_SMTP_HOST") or "(NEWSLETTER_SMTP_HOST not set)"
    typer.echo(f"dry run: nothing is sent, no connection is made (server: {host})")
    typer.echo(f"issue:   {plan.issue_name}  {issue['Subject']}")
    typer.echo(f"from:    {issue['From']}")
    typer.echo(
        f"to:      {len(plan.pending)} of {counted(len(plan.recipients), 'recipient')} "
        f"({len(plan.already_delivered)} already delivered per the ledger)"
    )
    done = {address.lower() for address in plan.already_delivered}
    for address in plan.recipients:
        typer.echo(f"  {'skip' if address.lower() in done else 'send'}  {shown_address(address)}")


def _deliver_with_progress(
    sender: send_module.Sender, plan: send_module.Plan
) -> send_module.Report:
    total = len(plan.recipients)
    with _progress_bar(f"sending {plan.issue_name}") as progress:
        done = 0

        def advance(outcome: send_module.Outcome) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        return sender.deliver(plan.issue, plan.issue_name, plan.recipients, on_outcome=advance)


def _print_report(report: send_module.Report, plan: send_module.Plan) -> None:
    accepted = report.with_status("accepted")
    skipped = report.with_status("skipped")
    typer.echo(
        f"{plan.issue_name}: sent to {len(accepted)}, "
        f"{len(skipped)} already delivered, of {counted(len(report.outcomes), 'recipient')}"
    )
    for status, label in (("refused", "refused (permanent)"), ("failed", "failed (temporary)")):
        for outcome in report.with_status(status):
            shown = shown_address(outcome.address)
            typer.echo(f"  {label}: {shown}: {outcome.reply}", err=True)


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
    from newsletter import serve as serve_module

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


# --- the mailing list ---------------------------------------------------------------------

subscribers_app = typer.Typer(
    help="The mailing list, run from one mailbox: its state lives in IMAP folders.\n\n"
    "Settings from the environment: NEWSLETTER_IMAP_HOST, _PORT, _USER, _PASSWORD, _TLS "
    "(none|starttls|ssl), NEWSLETTER_LIST_SECRET, and the NEWSLETTER_SMTP_* ones for replies.",
    no_args_is_help=True,
)
app.add_typer(subscribers_app, name="subscribers")

WeeklyOption = Annotated[
    bool, typer.Option("--weekly", help="The weekly edition instead of the daily issues.")
]


def _cadence(weekly: bool) -> Cadence:
    return "weekly" if weekly else "daily"


def _print_list_report(report: SyncReport, heading: str) -> None:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items()))
    typer.echo(f"{heading}: {counts or 'nothing to do'}")
    for line in report.lines:
        typer.echo(line)
    if report.sent or report.refused:
        typer.echo(f"replies sent: {report.sent}, refused: {len(report.refused)}")
    for address in report.refused:
        typer.echo(f"  refused (permanent): {address}", err=True)


def _run_list_command(
    heading: str, config: Path | None, action: Callable[[Settings], SyncReport]
) -> None:
    """Load the settings, run one list command, print its report; a problem: one line, 1."""
    try:
        report = action(load_settings(config))
    except NewsletterError as error:
        raise fail(error) from None
    _print_list_report(report, heading)
    if report.problem:
        typer.echo(report.problem, err=True)
        raise typer.Exit(1)


@subscribers_app.command("sync")
def subscribers_sync(
    seeds: SeedsOption = DEFAULT_SEEDS,
    config: ConfigOption = None,
) -> None:
    """Act on every mail in the list's INBOX (subscribe, confirm, unsubscribe, bounces)."""
    _run_list_command("sync", config, lambda s: _list_owner().sync(s, os.environ, seeds))


@subscribers_app.command("list")
def subscribers_list(
    weekly: Annotated[
        bool | None,
        typer.Option("--weekly/--daily", help="Only those who get the weekly (or daily) mail."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print every subscriber, one address a line (masked in CI logs)."""
    try:
        settings = load_settings(config)
        cadence = None if weekly is None else _cadence(weekly)
        found = _list_owner().subscribers(settings, os.environ, cadence)
    except NewsletterError as error:
        raise fail(error) from None
    for record in found:
        typer.echo(shown_address(record.address))
    typer.echo(f"{len(found)} subscribers", err=True)


@subscribers_app.command("add")
def subscribers_add(
    address: Annotated[str, typer.Argument(help="The address to invite.")],
    weekly: WeeklyOption = False,
    config: ConfigOption = None,
) -> None:
    """Send ADDRESS a confirmation mail: they are subscribed once they reply."""
    cadence = _cadence(weekly)
    _run_list_command("add", config, lambda s: _list_owner().add(s, os.environ, address, cadence))


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="One address a line (# comments).")],
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed", help="Required: these people already agreed to get the newsletter."
        ),
    ] = False,
    weekly: WeeklyOption = False,
    config: ConfigOption = None,
) -> None:
    """Move an existing, consented list in (no confirmation mails are sent)."""
    if not confirmed:
        typer.echo(
            "import subscribes without asking: pass --confirmed if everyone in "
            f"{file} already agreed, or use `subscribers add` to ask each address",
            err=True,
        )
        raise typer.Exit(1)
    cadence = _cadence(weekly)
    _run_list_command(
        "import", config, lambda s: _list_owner().import_confirmed(s, os.environ, file, cadence)
    )


@subscribers_app.command("remove")
def subscribers_remove(
    address: Annotated[str, typer.Argument(help="The address to unsubscribe.")],
    config: ConfigOption = None,
) -> None:
    """Unsubscribe ADDRESS at once (no mail is sent to it)."""
    _run_list_command("remove", config, lambda s: _list_owner().remove(s, os.environ, address))
