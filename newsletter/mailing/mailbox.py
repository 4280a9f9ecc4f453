"""The list's mailbox over IMAP (IMAPClient): INBOX and the folders that hold its state.

The only module here that talks to the IMAP server. Settings come from the environment
only (NEWSLETTER_IMAP_HOST, _PORT, _USER, _PASSWORD, _TLS), like the SMTP ones; the
password is never printed.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from typing import Any, Literal

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError, LoginError  # type: ignore[import-untyped]

from newsletter.mailing.records import FOLDERS, STATE_HEADERS
from newsletter.mailing.tokens import ListError
from newsletter.send import server_from_env

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}  # the first is the default mode
TIMEOUT_SECONDS = 60.0
FETCH_BATCH = 50  # whole messages fetched at a time

TlsMode = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    tls: TlsMode
    user: str = field(repr=False)
    password: str = field(repr=False)  # never printed

    def describe(self) -> str:
        return f"{self.host}:{self.port} ({self.tls})"


def imap_settings_from_env(environ: Mapping[str, str]) -> ImapSettings:
    """NEWSLETTER_IMAP_HOST, _PORT, _USER, _PASSWORD, _TLS; every problem in one line."""
    problems: list[str] = []
    host, port, tls = server_from_env(
        environ, "NEWSLETTER_IMAP", "the IMAP server of the list's mailbox", DEFAULT_PORTS, problems
    )
    user = environ.get("NEWSLETTER_IMAP_USER", "")
    password = environ.get("NEWSLETTER_IMAP_PASSWORD", "")
    if not user or not password:
        problems.append("NEWSLETTER_IMAP_USER and NEWSLETTER_IMAP_PASSWORD must both be set")
    if problems:
        raise ListError("cannot open the list's mailbox: " + "; ".join(problems))
    return ImapSettings(host, port, tls, user, password)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Stored:
    """One message in a folder: its UID there and its parsed headers (or whole message)."""

    uid: int
    message: EmailMessage


class Mailbox:
    """The folders under `root` (e.g. `Newsletter/subscribers`) and INBOX."""

    def __init__(self, client: Any, root: str) -> None:
        self._client = client
        self._selected = ""
        delimiter = self._delimiter()
        self.root = root
        self._folder_names = {name: f"{root}{delimiter}{name}" for name in FOLDERS}

    def folder(self, name: str) -> str:
        return self._folder_names.get(name, name)

    def create_folders(self) -> None:
        existing = {str(name) for _, _, name in self._call(self._client.list_folders)}
        for full in self._folder_names.values():
            if full not in existing:
                self._call(self._client.create_folder, full)

    def headers(self, name: str) -> list[Stored]:
        """The list's own headers of every message in a folder (records are read this way:
        small, and nothing is marked as read)."""
        fields = " ".join(STATE_HEADERS).upper()
        item = f"BODY.PEEK[HEADER.FIELDS ({fields})]"
        return list(self._fetch(name, item))

    def messages(self, name: str) -> Iterator[Stored]:
        """Whole messages, oldest first (by UID), fetched a batch at a time: an INBOX full of
        large mail never has to fit in memory at once."""
        return self._fetch(name, "BODY.PEEK[]", batch=FETCH_BATCH)

    def append(self, name: str, message: Message) -> None:
        self._call(self._client.append, self.folder(name), message.as_bytes(), (b"\\Seen",))

    def move(self, uid: int, source: str, target: str) -> None:
        """RFC 6851 MOVE where the server has it; else COPY, then delete the original."""
        self._select(source)
        if self._client.has_capability("MOVE"):
            self._call(self._client.move, [uid], self.folder(target))
            return
        self._call(self._client.copy, [uid], self.folder(target))
        self.delete(source, [uid])

    def delete(self, name: str, uids: Sequence[int]) -> None:
        if not uids:
            return
        self._select(name)
        self._call(self._client.delete_messages, list(uids))
        if self._client.has_capability("UIDPLUS"):
            self._call(self._client.uid_expunge, list(uids))  # RFC 4315: only these
        else:
            self._call(self._client.expunge)

    def _fetch(self, name: str, item: str, batch: int = 0) -> Iterator[Stored]:
        self._select(name)
        uids = sorted(self._call(self._client.search, ["ALL"]))
        size = batch or len(uids) or 1
        for start in range(0, len(uids), size):
            self._select(name)  # the caller may have worked in another folder meanwhile
            found = self._call(self._client.fetch, uids[start : start + size], [item])
            for uid in sorted(found):
                raw = _body(found[uid])
                message = message_from_bytes(raw, policy=default_policy)
                assert isinstance(message, EmailMessage)
                yield Stored(int(uid), message)

    def _select(self, name: str) -> None:
        folder = self.folder(name)
        if self._selected != folder:
            self._call(self._client.select_folder, folder)
            self._selected = folder

    def _delimiter(self) -> str:
        # RFC 2342 NAMESPACE: the personal namespace's hierarchy delimiter ("/" or ".")
        try:
            personal = self._client.namespace().personal
            if personal and personal[0][1]:
                return str(personal[0][1])
        except IMAPClientError:
            pass
        return "/"

    def _call(self, operation: Any, *args: Any) -> Any:
        try:
            return operation(*args)
        except (IMAPClientError, OSError) as error:
            raise ListError(f"the mailbox refused an operation: {error}") from None


def _body(fetched: Mapping[bytes, Any]) -> bytes:
    """The BODY[…] item of a FETCH response. Servers echo the section as they like (field
    names in another case or order), so it is found by its prefix, not spelled out."""
    for key, value in fetched.items():
        if key.upper().startswith(b"BODY[") and isinstance(value, bytes):
            return value
    return b""


@contextmanager
def open_mailbox(settings: ImapSettings, root: str) -> Iterator[Mailbox]:
    """Log in, create the list's folders if missing, and log out at the end."""
    client = _connect(settings)
    try:
        mailbox = Mailbox(client, root)
        mailbox.create_folders()
        yield mailbox
    finally:
        with suppress(IMAPClientError, OSError):
            client.logout()


def _connect(settings: ImapSettings) -> Any:
    where = settings.describe()
    context = ssl.create_default_context()
    try:
        client = IMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.tls == "ssl",
            ssl_context=context if settings.tls == "ssl" else None,
            timeout=TIMEOUT_SECONDS,
        )
        if settings.tls == "starttls":
            client.starttls(context)
    except (TimeoutError, OSError, IMAPClientError) as error:
        reason = str(error) or type(error).__name__
        raise ListError(
            f"cannot connect to the list's mailbox at {where}: {reason}; "
            "check NEWSLETTER_IMAP_HOST, NEWSLETTER_IMAP_PORT and NEWSLETTER_IMAP_TLS"
        ) from None
    try:
        client.login(settings.user, settings.password)
    except (LoginError, IMAPClientError, OSError):
        # The server's reply is not shown: some echo what they were sent.
        raise ListError(
            f"the list's mailbox at {where} refused the login; "
            "check NEWSLETTER_IMAP_USER and NEWSLETTER_IMAP_PASSWORD"
        ) from None
    return client
