"""The list's state as small messages in IMAP folders, and the state read back from them.

One message per record, readable in any mail client (`subscriber: ada@example.com
(daily)`); the `X-Newsletter-*` headers are what the list reads. Every record names the
command mail that caused it (`X-Newsletter-Command`), which is what makes a re-run after a
crash harmless: an effect already recorded for a command is not recorded again.

When several records exist for one address (a crash before the old one was deleted), the
newest counts; on a tie, the unsubscribed one (never mail someone who may have left).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from newsletter.mailing.commands import Cadence

# Folders under the configured root (`list_folder`, default `Newsletter`)
SUBSCRIBERS = "subscribers"  # who gets the issues: one record per address
UNSUBSCRIBED = "unsubscribed"  # who left or bounced: mailed no more until they confirm again
OUTBOX = "outbox"  # the list's own replies, recorded before they are sent
SENT = "sent"  # ... and moved here once the SMTP server accepted them
PROCESSED = "processed"  # command mails, moved out of INBOX once acted on
BOUNCES = "bounces"  # delivery status notifications, moved out of INBOX once acted on
FOLDERS = (SUBSCRIBERS, UNSUBSCRIBED, OUTBOX, SENT, PROCESSED, BOUNCES)

RecordKind = Literal["subscriber", "unsubscribed"]
MailKind = Literal["confirmation", "welcome", "goodbye"]
STATE_HEADERS = (
    "Date",
    "X-Newsletter-Record",
    "X-Newsletter-Mail",
    "X-Newsletter-Address",
    "X-Newsletter-Cadence",
    "X-Newsletter-Reason",
    "X-Newsletter-Command",
    "X-Newsletter-Recorded-Ms",
)


@dataclass(frozen=True)
class Record:
    """A subscriber, or an address that left; `uid` is its place in its folder."""

    kind: RecordKind
    address: str
    cadence: Cadence
    recorded_ms: int  # when the list recorded it, milliseconds since the epoch
    command: str  # key of the command mail that caused it
    reason: str = ""
    uid: int = 0

    @property
    def folder(self) -> str:
        return SUBSCRIBERS if self.kind == "subscriber" else UNSUBSCRIBED


@dataclass(frozen=True)
class ListMail:
    """A confirmation, welcome or goodbye the list sent (or is about to send)."""

    kind: MailKind
    address: str
    date: dt.datetime  # its Date header: the 24-hour cap counts from it
    command: str
    folder: str = OUTBOX
    uid: int = 0


@dataclass
class ListState:
    """Every record and reply the list holds; changed through `add` only."""

    records: list[Record] = field(default_factory=list)
    mails: list[ListMail] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each address's records, so a list of thousands is read in one pass, not squared.
        self._by_address: dict[str, list[Record]] = {}
        for record in self.records:
            self._by_address.setdefault(record.address, []).append(record)

    def current(self, address: str, excluding_command: str = "") -> Record | None:
        """The address's newest record, leaving out those of one command (a command is
        always planned against the state before it)."""
        records = self._by_address.get(address, [])
        return _newest(r for r in records if r.command != excluding_command)

    def subscribers(self, cadence: Cadence | None = None) -> list[Record]:
        """Everyone whose newest record is a subscription, sorted by address."""
        current = (_newest(self._by_address[address]) for address in sorted(self._by_address))
        return [
            r
            for r in current
            if r is not None and r.kind == "subscriber" and cadence in (None, r.cadence)
        ]

    def superseded(self) -> list[Record]:
        """Records that no longer count: an older record of an address that has a newer one."""
        current = {id(_newest(records)) for records in self._by_address.values()}
        return [r for r in self.records if id(r) not in current]

    def confirmations_since(
        self, address: str, since: dt.datetime, excluding_command: str = ""
    ) -> list[ListMail]:
        return [
            mail
            for mail in self.mails
            if mail.kind == "confirmation"
            and mail.address == address
            and mail.date > since
            and mail.command != excluding_command
        ]

    def has(self, command: str, kind: str, address: str) -> bool:
        """Whether this command already recorded this effect (a record or a reply)."""
        items: list[Record | ListMail] = [*self.records, *self.mails]
        return any((i.command, i.kind, i.address) == (command, kind, address) for i in items)

    def add(self, item: Record | ListMail) -> None:
        if isinstance(item, Record):
            self.records.append(item)
            self._by_address.setdefault(item.address, []).append(item)
        else:
            self.mails.append(item)


def _newest(records: Iterable[Record]) -> Record | None:
    # On a tie the unsubscribed record wins: never mail someone who may have left.
    return max(records, key=lambda r: (r.recorded_ms, r.kind == "unsubscribed"), default=None)


def record_message(record: Record, list_address: str) -> EmailMessage:
    """The record as a small message (From and To: the list itself)."""
    message = EmailMessage()
    detail = record.cadence if record.kind == "subscriber" else record.reason
    message["Subject"] = f"{record.kind}: {record.address} ({detail})"
    message["From"] = list_address
    message["To"] = list_address
    message["Date"] = format_datetime(_time(record.recorded_ms))
    message["Message-ID"] = f"<{record.kind}.{record.command}@{_domain(list_address)}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: never answered by anyone
    message["X-Newsletter-Record"] = record.kind
    message["X-Newsletter-Address"] = record.address
    message["X-Newsletter-Cadence"] = record.cadence
    if record.reason:
        message["X-Newsletter-Reason"] = record.reason
    message["X-Newsletter-Command"] = record.command
    message["X-Newsletter-Recorded-Ms"] = str(record.recorded_ms)
    message.set_content(
        f"{record.address}: {record.kind} since {format_datetime(_time(record.recorded_ms))}"
        f" ({detail}).\nRecorded by `newsletter subscribers`; deleting this message changes "
        "the list.\n"
    )
    return message


def read_record(headers: Message, uid: int) -> Record | None:
    kind = str(headers.get("X-Newsletter-Record", ""))
    cadence = str(headers.get("X-Newsletter-Cadence", "daily"))
    recorded = str(headers.get("X-Newsletter-Recorded-Ms", ""))
    address = str(headers.get("X-Newsletter-Address", "")).strip().lower()
    if kind not in ("subscriber", "unsubscribed") or not recorded.isdigit() or not address:
        return None  # not one of ours: someone filed another mail in the folder
    return Record(
        "subscriber" if kind == "subscriber" else "unsubscribed",
        address,
        "weekly" if cadence == "weekly" else "daily",
        int(recorded),
        str(headers.get("X-Newsletter-Command", "")),
        str(headers.get("X-Newsletter-Reason", "")),
        uid,
    )


def read_list_mail(headers: Message, folder: str, uid: int) -> ListMail | None:
    kind = str(headers.get("X-Newsletter-Mail", ""))
    address = str(headers.get("X-Newsletter-Address", "")).strip().lower()
    if kind not in ("confirmation", "welcome", "goodbye") or not address:
        return None
    try:
        date = parsedate_to_datetime(str(headers.get("Date", "")))
    except (TypeError, ValueError):
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=dt.UTC)
    mail_kind: MailKind = kind  # type: ignore[assignment]
    return ListMail(
        mail_kind, address, date, str(headers.get("X-Newsletter-Command", "")), folder, uid
    )


def command_key(message: Message) -> str:
    """A stable name for one command mail: the same on every run, different for two mails
    (a Message-ID alone may be missing or reused)."""
    parts = [str(message.get(name, "")) for name in ("Message-ID", "From", "Subject", "Date")]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:24]


def cadence_of(issue_name: str) -> Cadence:
    """`YYYY-Www` is a weekly edition, `YYYY-MM-DD` a daily issue."""
    return "weekly" if "-W" in issue_name else "daily"


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"
