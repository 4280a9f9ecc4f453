"""SMTP delivery of a built issue, with a delivery ledger that makes sending idempotent.

This module reads `outbox/<date>/issue.eml` as `newsletter build` wrote it and never renders
(rss2email's separation: delivery knows nothing about digests). Each recipient gets their own
copy (own To, Message-ID and unsubscribe link) over one reused connection.

The ledger (`.newsletter/deliveries.log`) gets one line per recipient the server accepted,
flushed and fsynced before the next message goes out, so a re-run after a crash sends only
to those not yet accepted. A fault between the server accepting the data and its reply
reaching us can still cause one duplicate; the per-recipient Message-ID is the same on the
retry, so receiving systems can recognise it.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage, MIMEPart
from email.policy import default as default_policy
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from newsletter.errors import SendError

DEFAULT_LEDGER = Path(".newsletter/deliveries.log")
BACKOFF_SECONDS = (2.0, 5.0, 15.0, 30.0)  # waits before each retry of a temporary failure
TLS_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}  # the first is the default mode
# A daily issue is named by its date, a weekly edition by its ISO week (2024-W21).
_ISSUE_NAME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}")
# Deliberately simple (RFC 5321 §4.1.2 allows far more): catches typos in a mailing list.
_ADDRESS = re.compile(
    r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
_HTTPS_TARGET = re.compile(r"<(https://[^>]+)>")
_BARE_UNSUBSCRIBE_MAILTO = re.compile(r"mailto:[^>\s\"?]+\?subject=unsubscribe(?=[>\"\s]|$)")

TlsMode = Literal["none", "starttls", "ssl"]


# --- what to send, to whom, through which server ------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: TlsMode
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)  # never printed

    def describe(self) -> str:
        login = " with login" if self.user else ""
        return f"{self.host}:{self.port} ({self.tls}{login})"


def smtp_settings_from_env(environ: Mapping[str, str]) -> SmtpSettings:
    """NEWSLETTER_SMTP_HOST, _PORT, _USER, _PASSWORD, _TLS (none|starttls|ssl)."""
    problems: list[str] = []
    host, port, tls = server_from_env(
        environ, "NEWSLETTER_SMTP", "the SMTP server to send through", DEFAULT_PORTS, problems
    )
    user = environ.get("NEWSLETTER_SMTP_USER", "")
    password = environ.get("NEWSLETTER_SMTP_PASSWORD", "")
    if bool(user) != bool(password):
        problems.append("set both NEWSLETTER_SMTP_USER and NEWSLETTER_SMTP_PASSWORD, or neither")
    if problems:
        raise SendError("cannot send: " + "; ".join(problems))
    return SmtpSettings(host, port, tls, user, password)  # type: ignore[arg-type]


def server_from_env(
    environ: Mapping[str, str],
    prefix: str,
    purpose: str,
    default_ports: Mapping[str, int],
    problems: list[str],
) -> tuple[str, int, str]:
    """`PREFIX_HOST`, `PREFIX_TLS` (the first of `default_ports` unless set) and
    `PREFIX_PORT` (that mode's default port unless set); each problem is added to
    `problems`, naming the variable to fix."""
    host = environ.get(f"{prefix}_HOST", "").strip()
    if not host:
        problems.append(f"{prefix}_HOST is not set: {purpose}")
    modes = list(default_ports)
    tls = environ.get(f"{prefix}_TLS", "").strip().lower() or modes[0]
    if tls not in TLS_MODES:
        problems.append(f"{prefix}_TLS must be one of {', '.join(TLS_MODES)}, found {tls!r}")
        tls = modes[0]
    port_text = environ.get(f"{prefix}_PORT", "").strip()
    port = default_ports[tls]
    if port_text:
        if port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            problems.append(f"{prefix}_PORT must be a port number, found {port_text!r}")
    return host, port, tls


def built_issue_path(outbox_dir: Path, name: str) -> Path:
    """`<outbox>/<name>/issue.eml` (a daily issue's name is its date, YYYY-MM-DD; a weekly
    edition's YYYY-Www), or a SendError naming the built editions nearest to `name`."""
    if not _ISSUE_NAME.fullmatch(name):
        raise SendError(
            f"{name!r} is neither a daily issue's date (YYYY-MM-DD) "
            "nor a weekly edition's week (YYYY-Www, e.g. 2024-W21)"
        )
    path = outbox_dir / name / "issue.eml"
    if not path.is_file():
        weekly = "W" in name  # the nearest of the same kind: dates for a date, weeks for a week
        built = sorted(
            p.parent.name
            for p in outbox_dir.glob("*/issue.eml")
            if ("W" in p.parent.name) == weekly
        )
        known = (
            f"nearest built: {', '.join(nearest(built, name))}"
            if built
            else "nothing is built there"
        )
        raise SendError(
            f"no built issue for {name} in {outbox_dir} ({known}); run `newsletter build` first"
        )
    return path


def nearest(names: Sequence[str], name: str, each_side: int = 2) -> list[str]:
    """Up to `each_side` sorted names before `name` and as many after it."""
    position = bisect.bisect_left(names, name)
    return list(names[max(0, position - each_side) : position + each_side])


def read_issue(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)  # default_policy always builds EmailMessage
    return message


def is_valid_address(address: str) -> bool:
    return bool(_ADDRESS.fullmatch(address))


def read_recipients(path: Path) -> list[str]:
    """One address per line (`Name <addr>` allowed); blank lines and `#` comments skipped.
    Every bad line is reported as `path:line: …` before anything is sent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SendError(f"{path}: cannot read the recipients file: {error}") from None
    recipients, problems = [], []
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        address = parseaddr(entry)[1]
        if is_valid_address(address):
            recipients.append(address)
        else:
            problems.append(f"{path}:{number}: not an e-mail address: {entry!r}")
    if problems:
        raise SendError("\n".join(problems))
    return recipients


def checked_addresses(addresses: Iterable[str]) -> list[str]:
    """Addresses given with --to, checked like the recipients file's."""
    result = []
    for entry in addresses:
        address = parseaddr(entry)[1]
        if not is_valid_address(address):
            raise SendError(f"--to {entry!r}: not an e-mail address")
        result.append(address)
    return result


def unique(addresses: Iterable[str]) -> list[str]:
    """First occurrence of each address, compared case-insensitively; order kept."""
    seen: set[str] = set()
    result = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


# --- the delivery ledger --------------------------------------------------------------------


class Ledger:
    """Append-only, tab-separated: `issue  status  recipient-key  message-id  server reply`.

    Only `accepted` lines count as delivered; `refused` lines are kept for the record, and
    a later run tries those recipients again (the address may have been fixed).

    The ledger is kept in the Actions cache between workflow runs, so it holds no address:
    each recipient is a hash of the address (`recipient_key`), and the address is cut out of
    the server's reply. Lines an older version wrote with the address itself still count.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def delivered(self, issue: str) -> set[str]:
        """The recipient keys the server accepted this issue for."""
        if not self.path.exists():
            return set()
        accepted = set()
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and fields[0] == issue and fields[1] == "accepted":
                recipient = fields[2]
                accepted.add(recipient_key(recipient) if "@" in recipient else recipient)
        return accepted

    def record(self, issue: str, status: str, address: str, message_id: str, reply: str) -> None:
        """Append one line and force it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        reply = " ".join(re.sub(re.escape(address), "<recipient>", reply, flags=re.I).split())
        line = f"{issue}\t{status}\t{recipient_key(address)}\t{message_id}\t{reply}\n"
        with self.path.open("ab") as file:
            if file.tell() > 0 and not self._ends_with_newline():
                file.write(b"\n")  # a line cut short by a crash stays on its own
            file.write(line.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as file:
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"


def recipient_key(address: str) -> str:
    """How the ledger names a recipient: a hash of the address, case-insensitive (an address
    differing only in case is the same mailbox for every provider we know)."""
    return "r-" + hashlib.sha256(b"ledger\0" + address.lower().encode()).hexdigest()[:32]


# --- one copy per recipient -----------------------------------------------------------------


def personal_unsubscribe_url(url: str, address: str, token: str = "") -> str:
    """The configured URL with `address=<address>` (and the recipient's unsubscribe token,
    when the list has a secret) added to its query string: the endpoint reads who is leaving
    and can check the token. Not `email=`: SpamAssassin scores a link carrying the
    recipient's address under that name (GB_CUSTOM_HTM_URI)."""
    separator = "&" if "?" in url else "?"
    personal = f"{url}{separator}address={quote(address, safe='@')}"
    return f"{personal}&token={quote(token)}" if token else personal


def recipient_message_id(issue_message_id: str, address: str) -> str:
    """`<issue-DATE.r<hash>@domain>`: the same on every retry to the same recipient."""
    local, _, domain = issue_message_id.strip("<>").partition("@")
    token = hashlib.sha256(f"{issue_message_id}\0{address.lower()}".encode()).hexdigest()[:16]
    return f"<{local}.r{token}@{domain}>"


def personal_copy(issue: EmailMessage, address: str, unsubscribe_token: str = "") -> EmailMessage:
    """The built issue addressed to one recipient, with their own unsubscribe link; with a
    token, the `mailto:…?subject=unsubscribe` link becomes `…unsubscribe%20TOKEN`, which
    the list acts on at once (RFC 2369 §3.2; the token is bound to this address)."""
    copy = message_from_bytes(issue.as_bytes(), policy=default_policy)
    assert isinstance(copy, EmailMessage)
    del copy["To"]
    copy["To"] = address
    issue_id = str(issue["Message-ID"])
    del copy["Message-ID"]
    copy["Message-ID"] = recipient_message_id(issue_id, address)
    unsubscribe = str(issue.get("List-Unsubscribe", ""))
    found = _HTTPS_TARGET.search(unsubscribe)
    if found:
        url = found[1]
        personal = personal_unsubscribe_url(url, address, unsubscribe_token)
        del copy["List-Unsubscribe"]
        copy["List-Unsubscribe"] = unsubscribe.replace(f"<{url}>", f"<{personal}>")
        _replace_in_bodies(copy, url, personal)
    if unsubscribe_token:
        _add_token_to_mailto(copy, unsubscribe_token)
    return copy


def _add_token_to_mailto(message: EmailMessage, token: str) -> None:
    header = str(message.get("List-Unsubscribe", ""))
    found = _BARE_UNSUBSCRIBE_MAILTO.search(header)
    if not found:
        return
    bare = found[0]
    personal = f"{bare}%20{token}"  # RFC 6068 §5: a space in a mailto subject is %20
    del message["List-Unsubscribe"]
    message["List-Unsubscribe"] = header.replace(bare, personal)
    _replace_in_bodies(message, bare, personal)


def _replace_in_bodies(message: EmailMessage, url: str, personal: str) -> None:
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        assert isinstance(part, EmailMessage)
        subtype = part.get_content_subtype()
        content = str(part.get_content())
        if subtype == "html":
            old, new = f'"{html.escape(url)}"', f'"{html.escape(personal)}"'
        else:
            old, new = url, personal
        if old in content:
            # MIMEPart's set_content: EmailMessage's would add MIME-Version to a sub-part
            MIMEPart.set_content(part, content.replace(old, new), subtype=subtype, charset="utf-8")


# --- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    address: str
    status: Literal["accepted", "refused", "failed", "skipped"]
    reply: str = ""


@dataclass
class Report:
    issue: str
    outcomes: list[Outcome] = field(default_factory=list)

    def with_status(self, status: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    @property
    def everyone_reached(self) -> bool:
        return all(outcome.status in ("accepted", "skipped") for outcome in self.outcomes)


class _TemporaryFailure(Exception):
    """A 4xx reply or a lost connection: worth another try on a fresh connection."""


class _PermanentFailure(Exception):
    """A 5xx reply for this recipient: retrying will not help."""


Connect = Callable[[SmtpSettings], smtplib.SMTP]


def connect(settings: SmtpSettings, timeout: float = 60.0) -> smtplib.SMTP:
    if settings.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        if settings.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
    if settings.user:
        client.login(settings.user, settings.password)
    return client


@dataclass
class Sender:
    """Delivers personal copies over one connection, reconnecting after faults."""

    smtp: SmtpSettings
    ledger: Ledger
    rate: float  # messages per second at most
    backoff: Sequence[float] = BACKOFF_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    connect: Connect = connect
    # The list address, so bounces come back to the list's mailbox (default: the From)
    envelope_sender: str = ""
    # address → its unsubscribe token, for the one-step mailto in each copy
    unsubscribe_token: Callable[[str], str] | None = None
    unreachable: bool = False  # the last connection attempt failed
    _client: smtplib.SMTP | None = None
    _next_send: float = 0.0

    def deliver(
        self,
        issue: EmailMessage,
        issue_name: str,
        addresses: Sequence[str],
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    ) -> Report:
        report = Report(issue_name)
        delivered = self.ledger.delivered(issue_name)
        sender_address = self.envelope_sender or parseaddr(str(issue["From"]))[1]
        try:
            for address in unique(addresses):
                if recipient_key(address) in delivered:
                    outcome = Outcome(address, "skipped", "already delivered (ledger)")
                elif self.unreachable:
                    outcome = Outcome(address, "failed", "not tried: the server is unreachable")
                else:
                    outcome = self._deliver_one(issue, issue_name, sender_address, address)
                report.outcomes.append(outcome)
                on_outcome(outcome)
        finally:
            self._disconnect()
        return report

    def _deliver_one(
        self, issue: EmailMessage, issue_name: str, sender_address: str, address: str
    ) -> Outcome:
        token = self.unsubscribe_token(address) if self.unsubscribe_token else ""
        message = personal_copy(issue, address, token)
        message_id = str(message["Message-ID"])
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                self.sleep(self.backoff[attempt - 1])
            try:
                reply = self._send(message, sender_address, address)
            except _TemporaryFailure as failure:
                last_reply = str(failure)
                self._disconnect()
                continue
            except _PermanentFailure as failure:
                self.ledger.record(issue_name, "refused", address, message_id, str(failure))
                return Outcome(address, "refused", str(failure))
            self.ledger.record(issue_name, "accepted", address, message_id, reply)
            return Outcome(address, "accepted", reply)
        return Outcome(
            address, "failed", f"gave up after {len(self.backoff) + 1} tries: {last_reply}"
        )

    def _send(self, message: EmailMessage, sender_address: str, address: str) -> str:
        client = self._connected()
        self._wait_for_rate()
        try:
            client.send_message(message, sender_address, [address])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients.get(address, (550, b"refused"))
            raise _classify(code, reply) from None
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, error.smtp_error) from None
        except OSError as error:  # includes SMTPServerDisconnected, timeouts, resets
            raise _TemporaryFailure(f"connection lost: {error or type(error).__name__}") from None
        return "250 accepted"

    def _connected(self) -> smtplib.SMTP:
        if self._client is not None:
            return self._client
        try:
            self._client = self.connect(self.smtp)
        except smtplib.SMTPAuthenticationError as error:
            raise SendError(
                f"{self.smtp.describe()} refused the login ({error.smtp_code}); "
                "check NEWSLETTER_SMTP_USER and NEWSLETTER_SMTP_PASSWORD"
            ) from None
        except OSError as error:
            self.unreachable = True
            raise _TemporaryFailure(
                f"cannot connect to {self.smtp.describe()}: {error or type(error).__name__}"
            ) from None
        self.unreachable = False
        return self._client

    def _wait_for_rate(self) -> None:
        now = self.clock()
        if now < self._next_send:
            self.sleep(self._next_send - now)
            now = self._next_send
        self._next_send = now + 1.0 / self.rate

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _classify(code: int, reply: bytes | str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    described = f"{code} {text}"
    # RFC 5321 §4.2.1: 4yz is a transient negative reply, 5yz a permanent one
    if 400 <= code < 500 or code == -1:
        return _TemporaryFailure(described)
    return _PermanentFailure(described)


# --- the plan the command line runs -------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Everything checked before a single message goes out."""

    issue: EmailMessage
    issue_name: str  # the issue's date
    recipients: list[str]  # unique, in the order given
    already_delivered: list[str]  # recipients the ledger lists as accepted

    @property
    def pending(self) -> list[str]:
        done = {address.lower() for address in self.already_delivered}
        return [address for address in self.recipients if address.lower() not in done]


def plan(
    outbox_dir: Path,
    date: str,
    to: Sequence[str],
    recipients_file: Path | None,
    ledger: Ledger,
    subscribers: Sequence[str] = (),
) -> Plan:
    issue = read_issue(built_issue_path(outbox_dir, date))
    addresses = checked_addresses(to)
    if recipients_file is not None:
        addresses += read_recipients(recipients_file)
    recipients = unique([*addresses, *subscribers])
    if not recipients:
        raise SendError("no recipients: give --to ADDRESS, --recipients FILE or --subscribers")
    delivered = ledger.delivered(date)
    done = [address for address in recipients if recipient_key(address) in delivered]
    return Plan(issue, date, recipients, done)
