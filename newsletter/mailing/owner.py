"""The owner's commands (`newsletter subscribers …`) and what `send --subscribers` reads.

Each checks its settings before connecting to anything, opens the list's mailbox, does one
thing and logs out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from newsletter.config import Settings
from newsletter.mailing.commands import Cadence, Command
from newsletter.mailing.mailbox import imap_settings_from_env, open_mailbox
from newsletter.mailing.records import Record
from newsletter.mailing.sync import MailingList, Postman, SyncReport, latest_issue_url
from newsletter.mailing.tokens import ListError, Tokens, tokens_from_env
from newsletter.send import checked_addresses, read_recipients, smtp_settings_from_env

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def opened_list(
    settings: Settings,
    environ: Mapping[str, str],
    clock: Clock = utc_now,
    tokens: Tokens | None = None,
    latest_issue: str = "",
) -> Iterator[MailingList]:
    imap = imap_settings_from_env(environ)
    with open_mailbox(imap, settings.list_folder) as mailbox:
        yield MailingList.open(settings, mailbox, clock, tokens, latest_issue)


def sync(
    settings: Settings, environ: Mapping[str, str], seeds: Path, clock: Clock = utc_now
) -> SyncReport:
    """Act on every mail in INBOX, send the replies, tidy the records."""
    imap_settings_from_env(environ)  # every setting checked before connecting to anything
    tokens = tokens_from_env(environ)
    postman = Postman(smtp_settings_from_env(environ))
    report = SyncReport()
    latest = latest_issue_url(seeds, settings)
    with opened_list(settings, environ, clock, tokens, latest) as mailing_list:
        mailing_list.sync_inbox(report)
        mailing_list.tidy()
        # Last, so an SMTP outage delays only the replies (and any a crash left behind),
        # never an unsubscribe.
        try:
            mailing_list.send_outbox(postman, report)
        except ListError as error:
            report.problem = str(error)
    return report


def subscribers(
    settings: Settings, environ: Mapping[str, str], cadence: Cadence | None = None
) -> list[Record]:
    """Everyone subscribed (to one cadence, if given), sorted by address."""
    with opened_list(settings, environ) as mailing_list:
        return mailing_list.state.subscribers(cadence)


def add(
    settings: Settings,
    environ: Mapping[str, str],
    address: str,
    cadence: Cadence,
    clock: Clock = utc_now,
) -> SyncReport:
    """Send the address a confirmation, as if it had written `subscribe` itself: adding
    someone is still double opt-in."""
    address = one_address(address)
    imap_settings_from_env(environ)
    tokens = tokens_from_env(environ)
    postman = Postman(smtp_settings_from_env(environ))
    report = SyncReport()
    with opened_list(settings, environ, clock, tokens) as mailing_list:
        key = _owner_key("add", address, clock())
        mailing_list.run_command(Command("subscribe", address, cadence), key, None, report)
        mailing_list.send_outbox(postman, report)
    return report


def import_confirmed(
    settings: Settings,
    environ: Mapping[str, str],
    path: Path,
    cadence: Cadence,
    clock: Clock = utc_now,
) -> SyncReport:
    """Subscribe every address in the file without a confirmation (they consented
    elsewhere); addresses that are subscribed, left or bounced are left as they are, so
    importing an old list again never brings back someone who left."""
    addresses = dict.fromkeys(address.lower() for address in read_recipients(path))
    report = SyncReport()
    with opened_list(settings, environ, clock) as mailing_list:
        for address in addresses:
            current = mailing_list.state.current(address)
            if current is not None and current.kind == "subscriber":
                report.note("already subscribed", address)
            elif current is not None:
                report.note(f"not imported: left or bounced ({current.reason})", address)
            else:
                key = _owner_key("import", address, clock())
                ms = mailing_list.now_ms()
                mailing_list.record(Record("subscriber", address, cadence, ms, key, "imported"))
                report.note(f"imported ({cadence})", address)
    return report


def remove(
    settings: Settings, environ: Mapping[str, str], address: str, clock: Clock = utc_now
) -> SyncReport:
    """Unsubscribe the address at once, without mailing it."""
    address = one_address(address)
    report = SyncReport()
    with opened_list(settings, environ, clock) as mailing_list:
        current = mailing_list.state.current(address)
        if current is None or current.kind != "subscriber":
            report.note("not subscribed", address)
            return report
        key = _owner_key("remove", address, clock())
        ms = mailing_list.now_ms()
        reason = "removed by the owner"
        mailing_list.record(Record("unsubscribed", address, current.cadence, ms, key, reason))
        mailing_list.tidy()
        report.note("removed", address)
    return report


def one_address(entry: str) -> str:
    (address,) = checked_addresses([entry])
    return address.lower()


def _owner_key(action: str, address: str, now: dt.datetime) -> str:
    """The command key of an owner's command: distinct for each run of it."""
    seed = f"{action}\0{address}\0{now.isoformat()}".encode()
    return "owner-" + hashlib.sha256(seed).hexdigest()[:18]
