"""The mails the list writes itself: confirmations, welcome, goodbye. Pure: the same
inputs give the same message (its Date is the `now` it is given).

Every one carries `Auto-Submitted: auto-replied` (RFC 3834 §5), so well-behaved robots
never answer it, and names its command (`X-Newsletter-Command`) so a re-run after a crash
finds it already written instead of writing it twice.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from newsletter.config import Settings
from newsletter.mail import SUBJECT_PREFIX
from newsletter.templating import environment

if TYPE_CHECKING:  # annotations only: every site page imports this module for its mailto
    from newsletter.mailing.commands import Cadence
    from newsletter.mailing.records import MailKind


def mailto(list_address: str, subject: str) -> str:
    """RFC 6068 `mailto:` with a subject; the space is %20, as RFC 6068 §5 asks."""
    return f"mailto:{list_address}?subject={quote(subject, safe='')}"


def subscribe_mailto(list_address: str, cadence: Cadence = "daily") -> str:
    return mailto(list_address, "subscribe weekly" if cadence == "weekly" else "subscribe")


def unsubscribe_mailto(list_address: str, token: str = "") -> str:
    return mailto(list_address, f"unsubscribe {token}".strip())


def confirmation(
    settings: Settings,
    address: str,
    action: str,
    token: str,
    command: str,
    request: Message | None,
    now: dt.datetime,
    cadence: Cadence = "daily",
) -> EmailMessage:
    """Asks the address to confirm: a reply keeps the Subject, and with it the token."""
    list_address = settings.list_mailbox
    if action == "unsubscribe":
        subject = f"{SUBJECT_PREFIX} 구독 해지 확인: unsubscribe {token}"
        body = _render(
            "list/confirm-unsubscribe.txt",
            settings,
            address=address,
            unsubscribe_mailto=unsubscribe_mailto(list_address, token),
        )
    else:
        subject = f"{SUBJECT_PREFIX} 구독 확인: confirm {token}"
        body = _render(
            "list/confirm-subscribe.txt",
            settings,
            address=address,
            cadence=cadence,
            confirm_mailto=mailto(list_address, f"confirm {token}"),
        )
    return _letter(settings, "confirmation", address, subject, body, command, request, now)


def welcome(
    settings: Settings,
    address: str,
    cadence: Cadence,
    unsubscribe_token: str,
    latest_issue_url: str,
    command: str,
    request: Message | None,
    now: dt.datetime,
) -> EmailMessage:
    list_address = settings.list_mailbox
    body = _render(
        "list/welcome.txt",
        settings,
        address=address,
        cadence=cadence,
        latest_issue_url=latest_issue_url,
        archive_url=settings.url(),
        switch_mailto=subscribe_mailto(list_address, "daily" if cadence == "weekly" else "weekly"),
        unsubscribe_mailto=unsubscribe_mailto(list_address, unsubscribe_token),
    )
    subject = f"{SUBJECT_PREFIX} 구독을 환영합니다"
    return _letter(settings, "welcome", address, subject, body, command, request, now)


def goodbye(
    settings: Settings, address: str, command: str, request: Message | None, now: dt.datetime
) -> EmailMessage:
    body = _render(
        "list/goodbye.txt",
        settings,
        address=address,
        subscribe_mailto=subscribe_mailto(settings.list_mailbox),
        archive_url=settings.url(),
    )
    subject = f"{SUBJECT_PREFIX} 구독이 해지되었습니다"
    return _letter(settings, "goodbye", address, subject, body, command, request, now)


def _render(template: str, settings: Settings, **context: Any) -> str:
    return environment(settings).get_template(template).render(settings=settings, **context)


def _letter(
    settings: Settings,
    kind: MailKind,
    address: str,
    subject: str,
    body: str,
    command: str,
    request: Message | None,
    now: dt.datetime,
) -> EmailMessage:
    list_address = settings.list_mailbox
    display_name = parseaddr(settings.email_from)[0] or settings.title
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((display_name, list_address))
    message["To"] = address
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{kind}.{command}@{list_address.rpartition('@')[2]}>"
    request_id = str(request.get("Message-ID", "")) if request is not None else ""
    if request_id:
        message["In-Reply-To"] = request_id
        message["References"] = request_id
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834 §5
    message["X-Newsletter-Mail"] = kind
    message["X-Newsletter-Address"] = address
    message["X-Newsletter-Command"] = command
    message.set_content(body, charset="utf-8")
    return message
