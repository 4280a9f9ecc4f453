"""`newsletter subscribers sync`: act on every mail in the list's INBOX, then send the list's
own replies.

For each command mail, in order of arrival:
1. plan its effects against the state before it (records of this very command left out);
2. APPEND each effect not yet recorded for this command (a subscriber record, a reply in
   `outbox`), so the effect is recorded before anything else happens;
3. MOVE the mail out of INBOX (to `processed`, or `bounces` for a delivery report).
Then every reply in `outbox` is sent over SMTP and moved to `sent`, and records that a newer
one replaced are deleted. A crash between any two steps leaves work the next run finishes
without doing anything twice (a reply can go twice only if the crash falls between the SMTP
server accepting it and the move to `sent`, as with any mail delivery).
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path

from newsletter.config import Settings
from newsletter.mailing import letters
from newsletter.mailing.commands import Cadence, Command, read_command
from newsletter.mailing.mailbox import Mailbox
from newsletter.mailing.records import (
    BOUNCES,
    OUTBOX,
    PROCESSED,
    SENT,
    SUBSCRIBERS,
    UNSUBSCRIBED,
    ListMail,
    ListState,
    MailKind,
    Record,
    command_key,
    read_list_mail,
    read_record,
    record_message,
)
from newsletter.mailing.tokens import ListError, Tokens, issued_ms
from newsletter.parse import find_digest_files
from newsletter.privacy import shown_address
from newsletter.send import SmtpSettings, connect

CONFIRMATION_INTERVAL = dt.timedelta(hours=24)  # at most one confirmation per address
CONFIRMATION_LIFETIME = dt.timedelta(days=7)
SUBSCRIBE_ACTIONS = ("subscribe-daily", "subscribe-weekly")
_DIGEST_DATE = re.compile(rb"Daily Papers \((\d{4}-\d{2}-\d{2})\)")


@dataclass(frozen=True)
class Effect:
    """One thing a command changes: a record, or a reply waiting in the outbox."""

    folder: str
    message: EmailMessage
    item: Record | ListMail


@dataclass
class SyncReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    sent: int = 0
    refused: list[str] = field(default_factory=list)
    problem: str = ""  # why the replies could not all be sent (they wait in `outbox`)

    def note(self, outcome: str, address: str = "") -> None:
        self.outcomes[outcome] += 1
        shown = f"{shown_address(address)}: " if address else ""
        self.lines.append(f"  {shown}{outcome}")


@dataclass
class MailingList:
    """The list at work: its settings, its tokens, its mailbox and what it holds."""

    settings: Settings
    mailbox: Mailbox
    clock: Callable[[], dt.datetime]
    # Only what mails someone needs them; listing, importing and removing do not.
    secret_tokens: Tokens | None = None
    latest_issue_url: str = ""
    state: ListState = field(default_factory=ListState)
    _last_ms: int = 0

    @classmethod
    def open(
        cls,
        settings: Settings,
        mailbox: Mailbox,
        clock: Callable[[], dt.datetime],
        tokens: Tokens | None = None,
        latest_issue_url: str = "",
    ) -> MailingList:
        mailing_list = cls(settings, mailbox, clock, tokens, latest_issue_url)
        mailing_list.state = load_state(mailbox)
        # A machine whose clock runs behind must still record after every existing record,
        # or the newest-record-wins rule would undo its change.
        recorded = (record.recorded_ms for record in mailing_list.state.records)
        mailing_list._last_ms = max(recorded, default=0)
        return mailing_list

    @property
    def tokens(self) -> Tokens:
        assert self.secret_tokens is not None, "opened without NEWSLETTER_LIST_SECRET"
        return self.secret_tokens

    # --- time: the real clock, but every record strictly after the ones before ----------

    def now_ms(self) -> int:
        ms = max(int(self.clock().timestamp() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return ms

    # --- what one command changes ----------------------------------------------------------

    def plan(self, command: Command, key: str, request: Message | None) -> tuple[list[Effect], str]:
        """The effects of one command and a few words on the outcome (no I/O)."""
        if command.kind == "subscribe":
            return self._plan_subscribe(command.sender, command.cadence, key, request)
        if command.kind == "confirm":
            return self._plan_confirm(command.sender, command.token, key, request)
        if command.kind == "unsubscribe" and command.token:
            return self._plan_unsubscribe(command.sender, command.token, key, request)
        if command.kind == "unsubscribe":
            return self._plan_unsubscribe_request(command.sender, key, request)
        if command.kind == "bounce":
            return self._plan_bounce(command, key)
        return [], f"ignored: {command.why_ignored}"

    def _plan_subscribe(
        self, address: str, cadence: Cadence, key: str, request: Message | None
    ) -> tuple[list[Effect], str]:
        current = self.state.current(address, excluding_command=key)
        if current and current.kind == "subscriber" and current.cadence == cadence:
            return [], f"already subscribed ({cadence}); no reply"
        if self._confirmed_recently(address, key):
            return [], "a confirmation went out in the last 24 hours; no reply"
        ms = self.now_ms()
        token = self.tokens.confirm(f"subscribe-{cadence}", address, ms)
        mail = letters.confirmation(
            self.settings, address, "subscribe", token, key, request, _time(ms), cadence
        )
        return [self._mail_effect(mail, "confirmation", address, key, ms)], (
            f"asked to confirm ({cadence})"
        )

    def _plan_confirm(
        self, address: str, token: str, key: str, request: Message | None
    ) -> tuple[list[Effect], str]:
        action = self.tokens.confirmed_action(token, address, SUBSCRIBE_ACTIONS)
        issued = issued_ms(token)
        if action is None or issued is None:
            return [], "ignored: the token is not one the list gave this address"
        ms = self.now_ms()
        if dt.timedelta(milliseconds=ms - issued) > CONFIRMATION_LIFETIME:
            return [], "ignored: the confirmation expired; subscribe again"
        current = self.state.current(address, excluding_command=key)
        if current is not None and current.recorded_ms >= issued:
            return [], "ignored: the confirmation was used or replaced already"
        cadence: Cadence = "weekly" if action == "subscribe-weekly" else "daily"
        record = Record("subscriber", address, cadence, ms, key, "confirmed by mail")
        mail = letters.welcome(
            self.settings,
            address,
            cadence,
            self.tokens.unsubscribe(address),
            self.latest_issue_url,
            key,
            request,
            _time(ms),
        )
        return [
            self._record_effect(record),
            self._mail_effect(mail, "welcome", address, key, ms),
        ], f"subscribed ({cadence})"

    def _plan_unsubscribe(
        self, address: str, token: str, key: str, request: Message | None
    ) -> tuple[list[Effect], str]:
        if not self.tokens.is_unsubscribe(token, address):
            return [], "ignored: the token is not one the list gave this address"
        current = self.state.current(address, excluding_command=key)
        if current is not None and current.kind == "unsubscribed":
            return [], "already unsubscribed; no reply"
        ms = self.now_ms()
        cadence = current.cadence if current else "daily"
        effects = [
            self._record_effect(
                Record("unsubscribed", address, cadence, ms, key, "unsubscribed by mail")
            )
        ]
        if current is not None:
            mail = letters.goodbye(self.settings, address, key, request, _time(ms))
            effects.append(self._mail_effect(mail, "goodbye", address, key, ms))
        return effects, "unsubscribed"

    def _plan_unsubscribe_request(
        self, address: str, key: str, request: Message | None
    ) -> tuple[list[Effect], str]:
        current = self.state.current(address, excluding_command=key)
        if current is None or current.kind != "subscriber":
            return [], "not subscribed; no reply"
        if self._confirmed_recently(address, key):
            return [], "a confirmation went out in the last 24 hours; no reply"
        ms = self.now_ms()
        token = self.tokens.unsubscribe(address)
        mail = letters.confirmation(
            self.settings, address, "unsubscribe", token, key, request, _time(ms)
        )
        return [self._mail_effect(mail, "confirmation", address, key, ms)], (
            "asked to confirm leaving"
        )

    def _plan_bounce(self, command: Command, key: str) -> tuple[list[Effect], str]:
        effects, outcomes = [], []
        for failure in command.failures:
            current = self.state.current(failure.address, excluding_command=key)
            if not failure.permanent:
                outcomes.append(f"{failure.status or failure.action}: temporary, kept")
            elif current is None or current.kind != "subscriber":
                outcomes.append(f"{failure.status}: not a subscriber")
            elif not any(
                self.tokens.is_unsubscribe(token, failure.address)
                for token in command.quoted_tokens
            ):
                # Without the copy's own token the report could be forged to drop anyone.
                outcomes.append(f"{failure.status}: does not quote a copy the list sent; kept")
            else:
                reason = f"bounced {failure.status}"
                record = Record(
                    "unsubscribed", failure.address, current.cadence, self.now_ms(), key, reason
                )
                effects.append(self._record_effect(record))
                outcomes.append(f"{failure.status}: suppressed")
        return effects, "; ".join(outcomes) or "no recipient in the report"

    def _confirmed_recently(self, address: str, key: str) -> bool:
        """RFC-less but list-manager lore: one confirmation per address per day, counted
        from the Date of the confirmations the list recorded, so forged requests cannot
        mail-bomb a stranger."""
        since = self.clock() - CONFIRMATION_INTERVAL
        return bool(self.state.confirmations_since(address, since, excluding_command=key))

    def _record_effect(self, record: Record) -> Effect:
        message = record_message(record, self.settings.list_mailbox)
        return Effect(record.folder, message, record)

    def _mail_effect(
        self, message: EmailMessage, kind: MailKind, address: str, key: str, ms: int
    ) -> Effect:
        return Effect(OUTBOX, message, ListMail(kind, address, _time(ms), key))

    # --- doing it ---------------------------------------------------------------------------

    def apply(self, effects: Sequence[Effect], key: str) -> None:
        """APPEND each effect this command has not recorded yet."""
        for effect in effects:
            item = effect.item
            if not self.state.has(key, item.kind, item.address):
                self.mailbox.append(effect.folder, effect.message)
                self.state.add(item)

    def run_command(
        self, command: Command, key: str, request: Message | None, report: SyncReport
    ) -> None:
        effects, outcome = self.plan(command, key, request)
        self.apply(effects, key)
        report.note(f"{command.kind}: {outcome}", command.sender)

    def sync_inbox(self, report: SyncReport) -> None:
        """Each mail in INBOX, oldest first: record its effects, then move it out."""
        for stored in self.mailbox.messages("INBOX"):
            command = read_command(stored.message, self.settings.list_mailbox)
            self.run_command(command, command_key(stored.message), stored.message, report)
            target = BOUNCES if command.kind == "bounce" else PROCESSED
            self.mailbox.move(stored.uid, "INBOX", target)

    def record(self, record: Record) -> None:
        self.apply([self._record_effect(record)], record.command)

    def send_outbox(self, postman: Postman, report: SyncReport) -> None:
        """Send every reply waiting in `outbox`, then move it to `sent`."""
        waiting = self.mailbox.messages(OUTBOX)
        try:
            for stored in waiting:
                mail = read_list_mail(stored.message, OUTBOX, stored.uid)
                if mail is None:
                    continue  # not the list's: leave it alone
                if postman.send(stored.message, self.settings.list_mailbox, mail.address):
                    report.sent += 1
                else:
                    report.refused.append(shown_address(mail.address))
                self.mailbox.move(stored.uid, OUTBOX, SENT)
        finally:
            postman.close()

    def tidy(self) -> int:
        """Delete records a newer one replaced (an old cadence, a subscription since left)."""
        superseded = self.state.superseded()
        for folder in (SUBSCRIBERS, UNSUBSCRIBED):
            uids = [r.uid for r in superseded if r.folder == folder and r.uid]
            self.mailbox.delete(folder, uids)
        self.state = load_state(self.mailbox)
        return len(superseded)


def load_state(mailbox: Mailbox) -> ListState:
    state = ListState()
    for folder in (SUBSCRIBERS, UNSUBSCRIBED):
        for stored in mailbox.headers(folder):
            record = read_record(stored.message, stored.uid)
            if record is not None:
                state.add(record)
    for folder in (OUTBOX, SENT):
        for stored in mailbox.headers(folder):
            mail = read_list_mail(stored.message, folder, stored.uid)
            if mail is not None:
                state.add(mail)
    return state


class Postman:
    """Sends the list's replies over one SMTP connection, with the list address as envelope
    sender so that bounces come back to the list's mailbox (RFC 5321 §4.5.5 asks for a
    null sender only for notifications; these are replies to a person)."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self._client: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, envelope_from: str, to: str) -> bool:
        """True when accepted, False when this recipient is refused for good (RFC 5321
        §4.2.1: 5yz); a ListError for anything else (the reply stays in `outbox`)."""
        try:
            if self._client is None:
                self._client = connect(self.smtp)
            self._client.send_message(message, envelope_from, [to])
        except smtplib.SMTPRecipientsRefused as error:
            code = next(iter(error.recipients.values()))[0]
            if code >= 500:
                return False
            raise self._unreachable(f"{code} (temporary)") from None
        except smtplib.SMTPDataError as error:
            if error.smtp_code >= 500:
                return False
            raise self._unreachable(f"{error.smtp_code} (temporary)") from None
        except smtplib.SMTPAuthenticationError as error:
            raise self._unreachable(
                f"the login was refused ({error.smtp_code}); check NEWSLETTER_SMTP_USER and "
                "NEWSLETTER_SMTP_PASSWORD"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise self._unreachable(str(error) or type(error).__name__) from None
        return True

    def _unreachable(self, reason: str) -> ListError:
        self.close()
        return ListError(
            f"cannot send the list's replies through {self.smtp.describe()}: {reason}; "
            "they wait in the outbox folder for the next `newsletter subscribers sync`"
        )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def latest_issue_url(seeds: Path, settings: Settings) -> str:
    """The newest digest's issue page, read from the first line of each digest (cheap: no
    parsing), or "" when there is none."""
    dates = []
    for path in find_digest_files([seeds]) if seeds.is_dir() else []:
        with path.open("rb") as file:
            found = _DIGEST_DATE.search(file.read(200))
        if found:
            dates.append(found[1].decode("ascii"))
    return settings.issue_url(max(dates)) if dates else ""


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC)
