"""What an incoming mail asks the list for. Pure: a parsed message in, a Command out.

People write to the list address with a Subject of `subscribe`, `subscribe weekly`,
`unsubscribe` (or `구독`, `주간 구독`, `구독 해지`), or reply to a confirmation, whose
Subject carries `confirm TOKEN` / `unsubscribe TOKEN`. Delivery status notifications
(RFC 3464) are bounces. Anything automatic is never answered (RFC 3834 §2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import parseaddr
from typing import Literal

from newsletter.mailing.tokens import TOKEN
from newsletter.send import is_valid_address

CADENCES = ("daily", "weekly")
Cadence = Literal["daily", "weekly"]

# Reply and forward prefixes mail clients put before a Subject, in the languages our
# readers' clients are likely to use.
_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|답장|회신|전달)\s*(?:\[\d+\])?\s*[:：]\s*", re.I)
_WITH_TOKEN = re.compile(
    rf"\b(confirm|unsubscribe|구독\s*해지)\s+({TOKEN.pattern})(?![\w.-])", re.I
)
_BARE = {
    "subscribe": ("subscribe", "daily"),
    "subscribe daily": ("subscribe", "daily"),
    "subscribe weekly": ("subscribe", "weekly"),
    "구독": ("subscribe", "daily"),
    "매일 구독": ("subscribe", "daily"),
    "일간 구독": ("subscribe", "daily"),
    "주간 구독": ("subscribe", "weekly"),
    "unsubscribe": ("unsubscribe", "daily"),
    "구독 해지": ("unsubscribe", "daily"),
    "구독해지": ("unsubscribe", "daily"),
}
# Out-of-office and other robots that do not say so in their headers (RFC 3834 §3.1.7 asks
# them to; many do not).
_AUTOMATIC_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)"
    r"|autoreply|vacation|부재중|자동\s*(?:회신|응답))",
    re.I,
)
_QUOTED_TOKEN = re.compile(rf"subject=unsubscribe(?:%20|\+)({TOKEN.pattern})", re.I)
_ROBOT_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.I)


@dataclass(frozen=True)
class Failure:
    """One recipient's block of a delivery status notification (RFC 3464 §2.3)."""

    address: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # RFC 3463 class.subject.detail, e.g. 5.1.1

    @property
    def permanent(self) -> bool:
        # RFC 3463 §3.1: 5.x.x is a permanent failure, 4.x.x a persistent transient one
        return self.action == "failed" and self.status.startswith("5.")


@dataclass(frozen=True)
class Command:
    kind: Literal["subscribe", "confirm", "unsubscribe", "bounce", "ignore"]
    sender: str = ""  # the From address, lower-case
    cadence: Cadence = "daily"
    token: str = ""
    why_ignored: str = ""
    failures: tuple[Failure, ...] = ()
    quoted_tokens: tuple[str, ...] = ()  # unsubscribe tokens in the bounced copy's headers


def read_command(message: EmailMessage, list_address: str) -> Command:
    if is_delivery_report(message):
        return Command("bounce", failures=failures(message), quoted_tokens=quoted_tokens(message))
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    if not is_valid_address(sender):
        return Command("ignore", why_ignored="no sender address")
    if sender == list_address.lower():
        return Command("ignore", sender, why_ignored="sent by the list itself")
    automatic = why_automatic(message)
    if automatic:
        return Command("ignore", sender, why_ignored=automatic)
    return command_in_subject(str(message.get("Subject", "")), sender)


def command_in_subject(subject: str, sender: str) -> Command:
    found = _WITH_TOKEN.search(subject)
    if found:
        word = found[1].lower()
        kind: Literal["confirm", "unsubscribe"] = "confirm" if word == "confirm" else "unsubscribe"
        return Command(kind, sender, token=found[2])
    words = " ".join(_without_prefixes(subject).split()).lower()
    if words in _BARE:
        kind_word, cadence = _BARE[words]
        if kind_word == "subscribe":
            return Command(
                "subscribe", sender, cadence="weekly" if cadence == "weekly" else "daily"
            )
        return Command("unsubscribe", sender)
    return Command("ignore", sender, why_ignored="no command in the subject")


def _without_prefixes(subject: str) -> str:
    while True:
        shorter = _PREFIX.sub("", subject, count=1)
        if shorter == subject:
            return subject
        subject = shorter


def why_automatic(message: Message) -> str:
    """Why a mail must not be answered, or "" when a person wrote it (RFC 3834 §2)."""
    auto_submitted = str(message.get("Auto-Submitted", "no")).split(";")[0].strip().lower()
    if auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    return_path = message.get("Return-Path")
    if return_path is not None and parseaddr(str(return_path))[1] == "":
        return "null return path"  # RFC 3834 §2: a bounce or another automatic message
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if message.get(header) is not None:
            return header
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mail from another list"
    sender = parseaddr(str(message.get("From", "")))[1]
    if _ROBOT_SENDER.match(sender):
        return "robot sender"
    if _AUTOMATIC_SUBJECT.match(str(message.get("Subject", ""))):
        return "automatic reply"
    return ""


def is_delivery_report(message: Message) -> bool:
    """RFC 3464 §2: `multipart/report; report-type=delivery-status`."""
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def failures(report: Message) -> tuple[Failure, ...]:
    """Every per-recipient block of the report's `message/delivery-status` part."""
    found = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # RFC 3464 §2.1: the per-message fields first, then one block per recipient
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            recipient = str(block.get("Final-Recipient", block.get("Original-Recipient", "")))
            _, _, address = recipient.partition(";")
            found.append(
                Failure(
                    address.strip().strip("<>").lower(),
                    str(block.get("Action", "")).strip().lower(),
                    str(block.get("Status", "")).strip().split()[0] if block.get("Status") else "",
                )
            )
    return tuple(found)


def quoted_tokens(report: Message) -> tuple[str, ...]:
    """Unsubscribe tokens in the headers of the returned message (RFC 3464 §2: the third
    part, `message/rfc822` or `text/rfc822-headers`): proof that the bounced mail was a
    copy this list sent to that recipient."""
    headers = []
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers.append(payload.decode("utf-8", "replace"))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            for returned in inner if isinstance(inner, list) else []:
                if isinstance(returned, Message):
                    headers.append(str(returned.get("List-Unsubscribe", "")))
    return tuple(found for text in headers for found in _QUOTED_TOKEN.findall(text))
