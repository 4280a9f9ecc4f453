"""The owner's commands (`newsletter subscribers …`) and what `send --subscribers` reads.

Each opens the list's mailbox with the settings from the environment, does one thing and
logs out. Settings are checked before anything is connected to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from newsletter.config import Settings
from newsletter.mailing.commands import Cadence, Command
from newsletter.mailing.mailbox import imap_settings_from_env, open_mailbox
from newsletter.mailing.records import Record
from newsletter.mailing.sync import MailingList, Postman, SyncReport, latest_issue_url
from newsletter.mailing.tokens import Tokens, tokens_from_env
from newsletter.send import checked_addresses, read_recipients, smtp_settings_from_env

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sync(
    settings: Settings, environ: Mapping[str, str], seeds: Path, clock: Clock = utc_now
) -> SyncReport:
    """Act on every mail in INBOX, send the replies, tidy the records."""
    imap = imap_settings_from_env(environ)
    tokens = tokens_from_env(environ)
    postman = Postman(smtp_settings_from_env(environ))
    report = SyncReport()
    with open_mailbox(imap, settings.list_folder) as mailbox:
        mailing_list = MailingList.open(
            settings, tokens, mailbox, clock, latest_issue_url(seeds, settings)
        )
        mailing_list.send_outbox(postman, report)  # replies a crash left behind
        mailing_list.sync_inbox(report)
        mailing_list.send_outbox(postman, report)
        mailing_list.tidy()
    return report


def subscribers(
    settings: Settings, environ: Mapping[str, str], cadence: Cadence | None = None
) -> list[Record]:
    """Everyone subscribed (to one cadence, if given), sorted by address."""
    imap = imap_settings_from_env(environ)
    with open_mailbox(imap, settings.list_folder) as mailbox:
        mailing_list = MailingList.open(settings, _no_tokens(), mailbox, utc_now)
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
    (address,) = [a.lower() for a in checked_addresses([address])]
    imap = imap_settings_from_env(environ)
    tokens = tokens_from_env(environ)
    postman = Postman(smtp_settings_from_env(environ))
    report = SyncReport()
    with open_mailbox(imap, settings.list_folder) as mailbox:
        mailing_list = MailingList.open(settings, tokens, mailbox, clock)
        key = _owner_key("add", address, clock())
        mailing_list.run_owner_command(Command("subscribe", address, cadence), key, report)
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
    elsewhere); addresses that are subscribed, left or bounced are left as they are."""
    addresses = [a.lower() for a in read_recipients(path)]
    imap = imap_settings_from_env(environ)
    report = SyncReport()
    with open_mailbox(imap, settings.list_folder) as mailbox:
        mailing_list = MailingList.open(settings, _no_tokens(), mailbox, clock)
        for address in dict.fromkeys(addresses):
            current = mailing_list.state.current(address)
            if current is not None and current.kind == "subscriber":
                report.note("already subscribed", address)
            elif current is not None:
                report.note(f"not imported: left or bounced ({current.reason})", address)
            else:
                key = _owner_key("import", address, clock())
                record = Record(
                    "subscriber", address, cadence, mailing_list.now_ms(), key, "imported"
                )
                mailing_list.record(record)
                report.note(f"imported ({cadence})", address)
    return report


def remove(
    settings: Settings, environ: Mapping[str, str], address: str, clock: Clock = utc_now
) -> SyncReport:
    """Unsubscribe the address at once, without mailing it."""
    (address,) = [a.lower() for a in checked_addresses([address])]
    imap = imap_settings_from_env(environ)
    report = SyncReport()
    with open_mailbox(imap, settings.list_folder) as mailbox:
        mailing_list = MailingList.open(settings, _no_tokens(), mailbox, clock)
        current = mailing_list.state.current(address)
        if current is None or current.kind != "subscriber":
            report.note("not subscribed", address)
            return report
        key = _owner_key("remove", address, clock())
        record = Record(
            "unsubscribed", address, current.cadence, mailing_list.now_ms(), key, "removed by owner"
        )
        mailing_list.record(record)
        mailing_list.tidy()
        report.note("removed", address)
    return report


def _owner_key(action: str, address: str, now: dt.datetime) -> str:
    return (
        "owner-"
        + hashlib.sha256(f"{action}\0{address}\0{now.isoformat()}".encode()).hexdigest()[:18]
    )


def _no_tokens() -> Tokens:
    """Listing, importing and removing need no token: nothing is mailed."""
    return Tokens(b"")
