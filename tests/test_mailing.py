"""The mailing list against real parts: Debian's dovecot (IMAP) started on 127.0.0.1 for
this module, aiosmtpd for the list's replies and the issues, the CLI as a user runs it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import imap_server
import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient  # type: ignore[import-untyped]
from typer.testing import CliRunner

from newsletter import send
from newsletter.build import build
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.mailing import owner
from newsletter.mailing.commands import command_in_subject, read_command
from newsletter.mailing.mailbox import Mailbox, imap_settings_from_env
from newsletter.mailing.records import ListState, Record
from newsletter.mailing.tokens import ListError, Tokens, tokens_from_env

LIST = "newsletter@example.org"  # the test settings' email_from
SECRET = "test-list-secret-0123456789"
ADA, GRACE, MALLORY = "ada@example.com", "grace@example.com", "mallory@example.net"
DATE = "2024-05-22"
START = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


# --- real servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[imap_server.ImapServer]:
    assert imap_server.available(), "dovecot-imapd is not installed (.ci/run installs it)"
    server = imap_server.start()
    try:
        yield server
    finally:
        imap_server.stop(server)


class Outbox:
    """aiosmtpd handler: every message the list hands to its SMTP server."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, EmailMessage]] = []  # envelope from, to, message
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        for rcpt in envelope.rcpt_tos:
            self.received.append((envelope.mail_from, rcpt, message))
        return "250 2.0.0 accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for _, rcpt, message in self.received if rcpt == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Outbox, int]]:
    handler = Outbox()
    port = imap_server.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


_roots = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclasses.dataclass
class World:
    """One test's list: its own folder root in the shared dovecot, an empty INBOX."""

    settings: Settings
    server: imap_server.ImapServer
    outbox: Outbox
    smtp_port: int
    clock: Clock
    seeds: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.server.env(),
            "NEWSLETTER_LIST_SECRET": SECRET,
            "NEWSLETTER_SMTP_HOST": "127.0.0.1",
            "NEWSLETTER_SMTP_PORT": str(self.smtp_port),
            "NEWSLETTER_SMTP_TLS": "none",
        }

    def client(self) -> Any:
        client = IMAPClient(self.server.host, port=self.server.port, ssl=False, timeout=10)
        client.login(self.server.user, self.server.password)
        return client

    def write(self, sender: str, subject: str, **headers: str) -> None:
        """A mail arriving in the list's INBOX."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = LIST
        message["Subject"] = subject
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = f"<m{next(_roots)}@{sender.partition('@')[2]}>"
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content("sent from a test\n")
        self.deliver(message)

    def deliver(self, message: EmailMessage) -> None:
        client = self.client()
        client.append("INBOX", message.as_bytes())
        client.logout()

    def reply(self, sender: str, to: EmailMessage) -> None:
        """What a mail client sends on Reply: the same Subject with `Re: `."""
        self.write(sender, f"Re: {to['Subject']}", In_Reply_To=str(to["Message-ID"]))

    def sync(self) -> owner.SyncReport:
        return owner.sync(self.settings, self.env, self.seeds, self.clock)

    def subscribers(self, cadence: Any = None) -> list[tuple[str, str]]:
        return [(r.address, r.cadence) for r in owner.subscribers(self.settings, self.env, cadence)]

    def folder(self, name: str) -> list[EmailMessage]:
        client = self.client()
        folder = "INBOX" if name == "INBOX" else f"{self.settings.list_folder}/{name}"
        client.select_folder(folder)
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        client.logout()
        messages = []
        for uid in sorted(fetched):
            message = message_from_bytes(fetched[uid][b"BODY[]"], policy=default_policy)
            assert isinstance(message, EmailMessage)
            messages.append(message)
        return messages

    def state_snapshot(self) -> dict[str, list[str]]:
        """Every list folder as sorted `Subject` lines (what a mail client shows)."""
        return {
            name: sorted(str(m["Subject"]) for m in self.folder(name))
            for name in ("INBOX", "subscribers", "unsubscribed", "outbox", "sent", "processed")
        }


@pytest.fixture
def world(
    dovecot: imap_server.ImapServer,
    smtp: tuple[Outbox, int],
    settings: Settings,
    seeds_dir: Path,
) -> Iterator[World]:
    root = f"List{next(_roots)}"
    test_settings = dataclasses.replace(settings, list_folder=root)
    handler, port = smtp
    the_world = World(test_settings, dovecot, handler, port, Clock(), seeds_dir)
    client = the_world.client()
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]))
    client.expunge()
    client.logout()
    yield the_world


def confirm_token(message: EmailMessage) -> str:
    found = re.search(r"confirm (\S+)", str(message["Subject"]))
    assert found, message["Subject"]
    return found[1]


def subscribe(world: World, address: str, subject: str = "subscribe") -> None:
    """The whole double opt-in: ask, receive the confirmation, reply to it."""
    world.write(address, subject)
    world.sync()
    world.reply(address, world.outbox.to(address)[-1])
    world.sync()


# --- the lifecycle -------------------------------------------------------------------------


def test_subscribe_confirm_receive_and_leave(world: World, tmp_path: Path) -> None:
    world.write(f"Ada <{ADA}>", "subscribe")
    report = world.sync()
    assert report.outcomes == {"subscribe: asked to confirm (daily)": 1}
    (confirmation,) = world.outbox.to(ADA)
    envelope_from = world.outbox.received[0][0]
    assert envelope_from == LIST  # bounces come back to the list's mailbox
    assert confirmation["Auto-Submitted"] == "auto-replied"  # RFC 3834 §5
    assert len(confirm_token(confirmation)) >= 16
    assert world.subscribers() == []  # nobody is subscribed without confirming
    assert world.folder("INBOX") == []  # the request left INBOX
    assert [m["Subject"] for m in world.folder("processed")] == ["subscribe"]

    world.reply(ADA, confirmation)
    assert world.sync().outcomes == {"confirm: subscribed (daily)": 1}
    assert world.subscribers() == [(ADA, "daily")]
    welcome = world.outbox.to(ADA)[-1]
    assert welcome["Auto-Submitted"] == "auto-replied"
    body = welcome.get_content()
    assert "https://papers.example.org/newsletter/issues/2024-05-22/" in body  # latest issue
    unsubscribe_link = re.search(r"mailto:\S+subject=unsubscribe%20(\S+)", body)
    assert unsubscribe_link

    # An issue: each copy carries the reader's own unsubscribe token, in the header and footer
    issue = send.read_issue(send.built_issue_path(built_site(world, tmp_path), DATE))
    tokens = tokens_from_env(world.env)
    copy = send.personal_copy(issue, ADA, tokens.unsubscribe(ADA))
    header = str(copy["List-Unsubscribe"])
    assert header == (
        f"<https://papers.example.org/unsubscribe?address={ADA}&token={tokens.unsubscribe(ADA)}>, "
        f"<mailto:unsubscribe@example.org?subject=unsubscribe%20{tokens.unsubscribe(ADA)}>"
    )
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058
    text, html = (part.get_content() for part in copy.iter_parts())
    mailto = f"subject=unsubscribe%20{tokens.unsubscribe(ADA)}"
    assert mailto in text and f'?{mailto}"' in html
    assert unsubscribe_link[1] == tokens.unsubscribe(ADA)

    # The reader follows the mailto: a mail with that subject, and they are gone at once
    world.write(ADA, f"unsubscribe {tokens.unsubscribe(ADA)}")
    assert world.sync().outcomes == {"unsubscribe: unsubscribed": 1}
    assert world.subscribers() == []
    goodbye = world.outbox.to(ADA)[-1]
    assert "해지되었습니다" in str(goodbye["Subject"])
    assert [m["X-Newsletter-Address"] for m in world.folder("unsubscribed")] == [ADA]
    assert world.folder("subscribers") == []  # the old record is tidied away

    # For good: a later subscribe must be confirmed again
    world.clock.advance(hours=25)
    world.write(ADA, "구독")
    world.sync()
    assert world.subscribers() == []
    assert "confirm" in str(world.outbox.to(ADA)[-1]["Subject"])


_built: dict[str, Path] = {}


def built_site(world: World, tmp_path: Path) -> Path:
    """The outbox of a build of the seeds (the email issues `send` reads)."""
    if "site" not in _built:
        _built["site"] = tmp_path / "outbox"
        build(world.seeds, tmp_path / "public", world.settings, outbox_dir=_built["site"])
    return _built["site"]


def test_a_token_from_another_address_does_nothing(world: World) -> None:
    subscribe(world, ADA)
    sent_before = len(world.outbox.received)
    ada_unsubscribe = tokens_from_env(world.env).unsubscribe(ADA)
    world.write(MALLORY, f"unsubscribe {ada_unsubscribe}")
    world.write(MALLORY, f"Re: confirm {confirm_token(world.outbox.to(ADA)[0])}")
    report = world.sync()
    assert report.outcomes == {
        "unsubscribe: ignored: the token is not one the list gave this address": 1,
        "confirm: ignored: the token is not one the list gave this address": 1,
    }
    assert world.subscribers() == [(ADA, "daily")]
    assert len(world.outbox.received) == sent_before  # nobody was mailed


def test_replayed_tokens_change_nothing(world: World) -> None:
    subscribe(world, ADA)
    confirmation, _welcome = world.outbox.to(ADA)
    world.reply(ADA, confirmation)  # the same confirmation again
    assert world.sync().outcomes == {
        "confirm: ignored: the confirmation was used or replaced already": 1
    }
    token = tokens_from_env(world.env).unsubscribe(ADA)
    world.write(ADA, f"unsubscribe {token}")
    world.sync()
    mails_after_leaving = len(world.outbox.to(ADA))
    world.write(ADA, f"unsubscribe {token}")  # replayed unsubscribe: no second goodbye
    world.reply(ADA, confirmation)  # an old confirmation cannot bring them back
    report = world.sync()
    assert report.outcomes == {
        "unsubscribe: already unsubscribed; no reply": 1,
        "confirm: ignored: the confirmation was used or replaced already": 1,
    }
    assert world.subscribers() == []
    assert len(world.outbox.to(ADA)) == mails_after_leaving


def test_at_most_one_confirmation_per_address_per_day(world: World) -> None:
    for _ in range(3):
        world.write(GRACE, "subscribe")  # e.g. forged requests to mail-bomb Grace
    world.sync()
    world.clock.advance(hours=23)
    world.write(GRACE, "subscribe weekly")
    report = world.sync()
    assert report.outcomes == {
        "subscribe: a confirmation went out in the last 24 hours; no reply": 1
    }
    assert len(world.outbox.to(GRACE)) == 1
    world.clock.advance(hours=1, seconds=1)
    world.write(GRACE, "subscribe")
    world.sync()
    assert len(world.outbox.to(GRACE)) == 2


def test_bare_unsubscribe_asks_for_confirmation_first(world: World) -> None:
    subscribe(world, ADA)
    world.clock.advance(days=2)
    world.write(ADA, "구독 해지")
    assert world.sync().outcomes == {"unsubscribe: asked to confirm leaving": 1}
    assert world.subscribers() == [(ADA, "daily")]  # nobody removed on a bare request
    request = world.outbox.to(ADA)[-1]
    assert request["Auto-Submitted"] == "auto-replied"
    world.reply(ADA, request)
    world.sync()
    assert world.subscribers() == []
    world.write(MALLORY, "unsubscribe")  # not a subscriber: no reply at all
    world.sync()
    assert world.outbox.to(MALLORY) == []


def delivery_report(failures: list[tuple[str, str, str]], quoted: str = "") -> EmailMessage:
    """An RFC 3464 DSN as an MTA writes it, optionally quoting the bounced copy's headers."""
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; {address}\nAction: {action}\nStatus: {code}\n"
        for address, action, code in failures
    )
    returned = f"--B\nContent-Type: text/rfc822-headers\n\n{quoted}\n" if quoted else ""
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
        f"To: {LIST}\nSubject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <dsn{next(_roots)}@mx.example.com>\nAuto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example.com\n{blocks}\n"
        f"{returned}--B--\n"
    )
    message = message_from_bytes(raw.replace("\n", "\r\n").encode(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def test_permanent_bounce_suppresses_temporary_does_not(world: World) -> None:
    subscribe(world, ADA)
    subscribe(world, GRACE)
    tokens = tokens_from_env(world.env)
    quoted = (
        f"To: {ADA}\nList-Unsubscribe: <mailto:{LIST}?subject=unsubscribe%20"
        f"{tokens.unsubscribe(ADA)}>\n"
    )
    world.deliver(delivery_report([(GRACE, "delayed", "4.2.2")], quoted=""))
    world.deliver(delivery_report([(ADA, "failed", "5.1.1")], quoted=quoted))
    report = world.sync()
    assert report.outcomes == {
        "bounce: 4.2.2: temporary, kept": 1,
        "bounce: 5.1.1: suppressed": 1,
    }
    assert world.subscribers() == [(GRACE, "daily")]
    (record,) = world.folder("unsubscribed")
    assert record["X-Newsletter-Reason"] == "bounced 5.1.1"
    assert len(world.folder("bounces")) == 2
    assert world.outbox.to(ADA)[-1]["Subject"] == world.outbox.to(ADA)[1]["Subject"]  # no reply


def test_a_report_that_quotes_no_copy_of_ours_suppresses_nobody(world: World) -> None:
    subscribe(world, GRACE)
    world.deliver(delivery_report([(GRACE, "failed", "5.1.1")]))  # forged or headerless
    report = world.sync()
    assert report.outcomes == {"bounce: 5.1.1: does not quote a copy the list sent; kept": 1}
    assert world.subscribers() == [(GRACE, "daily")]


@pytest.mark.parametrize(
    ("sender", "subject", "headers"),
    [
        (GRACE, "Automatic reply: subscribe", {}),
        (GRACE, "subscribe", {"Auto_Submitted": "auto-replied"}),
        (GRACE, "subscribe", {"Precedence": "bulk"}),
        (GRACE, "subscribe", {"Return_Path": "<>"}),
        (GRACE, "subscribe", {"X_Autoreply": "yes"}),
        (GRACE, "subscribe", {"List_Id": "Other list <other.example.com>"}),
        (GRACE, "부재중입니다", {}),
        (LIST, "subscribe", {}),
        ("MAILER-DAEMON@example.com", "subscribe", {}),
    ],
)
def test_automatic_mail_and_the_list_itself_are_never_answered(
    world: World, sender: str, subject: str, headers: dict[str, str]
) -> None:
    world.write(sender, subject, **headers)
    report = world.sync()
    (outcome,) = report.outcomes
    assert outcome.startswith("ignore: ignored: "), outcome
    assert world.outbox.received == []
    assert world.folder("INBOX") == [] and len(world.folder("processed")) == 1


# --- crashes -------------------------------------------------------------------------------


class Crash(Exception):
    pass


def crash_on(monkeypatch: pytest.MonkeyPatch, method: str, call: int) -> None:
    """Make the `call`-th call of Mailbox.<method> die before it reaches the server."""
    original = getattr(Mailbox, method)
    calls = itertools.count(1)

    def failing(self: Mailbox, *args: Any) -> Any:
        if next(calls) == call:
            raise Crash
        return original(self, *args)

    monkeypatch.setattr(Mailbox, method, failing)


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("append", 2),  # the subscriber record written, the welcome not yet
        ("move", 1),  # effects recorded, the command still in INBOX
        ("move", 2),  # the welcome sent, not yet moved to `sent`: the one unavoidable resend
    ],
)
def test_a_crash_between_two_imap_steps_then_a_rerun_reaches_the_same_state(
    world: World, monkeypatch: pytest.MonkeyPatch, method: str, call: int
) -> None:
    world.write(ADA, "subscribe")
    world.sync()
    world.reply(ADA, world.outbox.to(ADA)[0])
    with monkeypatch.context() as patch:
        crash_on(patch, method, call)
        with pytest.raises(Crash):
            world.sync()
    world.clock.advance(minutes=5)
    world.sync()
    world.sync()  # and once more: nothing left to do
    assert world.subscribers() == [(ADA, "daily")]
    assert len(world.folder("subscribers")) == 1  # no double record
    welcomes = [m for m in world.outbox.to(ADA) if "환영" in str(m["Subject"])]
    assert len(welcomes) == (2 if (method, call) == ("move", 2) else 1)
    assert len([m for m in world.folder("sent") if m["X-Newsletter-Mail"] == "welcome"]) == 1
    assert world.folder("INBOX") == [] and world.folder("outbox") == []


def test_a_crash_after_recording_a_confirmation_sends_it_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.write(GRACE, "subscribe")
    with monkeypatch.context() as patch:
        crash_on(patch, "move", 1)  # confirmation in outbox, request still in INBOX
        with pytest.raises(Crash):
            world.sync()
    assert world.outbox.received == []
    world.sync()
    assert len(world.outbox.to(GRACE)) == 1  # not capped away, not doubled
    assert len(world.folder("sent")) == 1 and len(world.folder("processed")) == 1


def test_replies_wait_in_the_outbox_while_smtp_is_down(world: World, tmp_path: Path) -> None:
    subscribe(world, ADA)
    token = tokens_from_env(world.env).unsubscribe(ADA)
    world.write(ADA, f"unsubscribe {token}")
    world.write(GRACE, "subscribe")
    down = cli(world, tmp_path, "sync", NEWSLETTER_SMTP_PORT=str(imap_server.free_port()))
    assert down.exit_code == 1
    assert "they wait in the outbox folder" in down.output.strip().splitlines()[-1]
    assert "a***" not in down.output and f"{ADA}: unsubscribe: unsubscribed" in down.output
    assert world.subscribers() == []  # the unsubscribe took effect anyway
    assert len(world.folder("outbox")) == 2 and world.outbox.to(GRACE) == []
    back = cli(world, tmp_path, "sync")
    assert back.exit_code == 0, back.output
    assert "replies sent: 2" in back.output
    assert len(world.outbox.to(GRACE)) == 1 and world.folder("outbox") == []


# --- cadence -------------------------------------------------------------------------------


def test_weekly_subscribers_get_the_weekly_edition_and_can_switch(world: World) -> None:
    subscribe(world, ADA, "주간 구독")
    subscribe(world, GRACE, "subscribe")
    assert world.subscribers() == [(ADA, "weekly"), (GRACE, "daily")]
    assert world.subscribers("weekly") == [(ADA, "weekly")]
    world.clock.advance(days=2)
    subscribe(world, ADA, "subscribe daily")  # a switch is confirmed like a subscription
    assert world.subscribers() == [(ADA, "daily"), (GRACE, "daily")]
    assert len(world.folder("subscribers")) == 2  # the weekly record was replaced


def test_a_crash_before_the_old_record_is_deleted_changes_nothing_a_reader_sees(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(world, ADA, "subscribe weekly")
    world.clock.advance(days=2)
    world.write(ADA, "subscribe")
    world.sync()
    world.reply(ADA, world.outbox.to(ADA)[-1])
    with monkeypatch.context() as patch:
        crash_on(patch, "delete", 1)  # the daily record written, the weekly one still there
        with pytest.raises(Crash):
            world.sync()
    assert world.subscribers() == [(ADA, "daily")]  # the newest record counts
    assert len(world.folder("subscribers")) == 2
    world.sync()
    assert len(world.folder("subscribers")) == 1


def test_send_to_subscribers_needs_the_list_secret(world: World, tmp_path: Path) -> None:
    site = built_site(world, tmp_path)
    result = send_cli(
        world, tmp_path, DATE, "--subscribers", "--outbox", str(site), NEWSLETTER_LIST_SECRET=""
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "NEWSLETTER_LIST_SECRET is not set: the list's secret for its tokens "
        "(at least 16 random characters, e.g. `openssl rand -hex 32`)"
    )


def test_send_reaches_the_subscribers_of_the_issue_s_cadence(world: World, tmp_path: Path) -> None:
    subscribe(world, ADA, "subscribe weekly")
    subscribe(world, GRACE)
    site = built_site(world, tmp_path)
    daily = send_cli(world, tmp_path, DATE, "--subscribers", "--outbox", str(site))
    assert daily.exit_code == 0, daily.output
    issues = [
        (f, to) for f, to, m in world.outbox.received if "Daily Papers] 2024" in str(m["Subject"])
    ]
    assert issues == [(LIST, GRACE)]  # the list address is the envelope sender
    copy = world.outbox.to(GRACE)[-1]
    token = tokens_from_env(world.env).unsubscribe(GRACE)
    assert f"subject=unsubscribe%20{token}>" in str(copy["List-Unsubscribe"])

    # The weekly edition of a finished week (2024-04-16's) goes to Ada only
    weekly = send_cli(
        world, tmp_path, "2024-W16", "--subscribers", "--dry-run", "--outbox", str(site)
    )
    assert weekly.exit_code == 0, weekly.output
    assert f"send  {ADA}" in weekly.output and GRACE not in weekly.output


def send_cli(world: World, tmp_path: Path, *args: str, **env: str) -> Any:
    config = tmp_path / "settings.toml"
    config.write_text(settings_toml(world.settings))
    return CliRunner().invoke(
        app,
        ["send", *args, "--ledger", str(tmp_path / "ledger"), "--config", str(config)],
        env={**world.env, **env},
    )


def settings_toml(settings: Settings) -> str:
    lines = []
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        if isinstance(value, str):
            lines.append(f'{field.name} = "{value}"')
        elif isinstance(value, (int, float)):
            lines.append(f"{field.name} = {value}")
    return "\n".join(lines) + "\n"


def test_a_machine_whose_clock_runs_behind_still_changes_the_list(
    world: World, tmp_path: Path
) -> None:
    subscribe(world, ADA)
    world.clock.advance(hours=-3)  # e.g. the owner's laptop, three hours slow
    assert owner.remove(world.settings, world.env, ADA, world.clock).outcomes == {"removed": 1}
    assert world.subscribers() == []


# --- the owner's commands and settings ---------------------------------------------------


def cli(world: World, tmp_path: Path, *args: str, **env: str) -> Any:
    config = tmp_path / "settings.toml"
    config.write_text(settings_toml(world.settings))
    return CliRunner().invoke(
        app, ["subscribers", *args, "--config", str(config)], env={**world.env, **env}
    )


def test_owner_imports_adds_lists_and_removes(world: World, tmp_path: Path) -> None:
    listing = tmp_path / "old-secret.txt"
    listing.write_text(f"# the old NEWSLETTER_RECIPIENTS\n{ADA}\nGrace <{GRACE}>\n")
    refused = cli(world, tmp_path, "import", str(listing))
    assert refused.exit_code == 1 and "--confirmed" in refused.output
    imported = cli(world, tmp_path, "import", str(listing), "--confirmed")
    assert imported.exit_code == 0, imported.output
    assert world.outbox.received == []  # consented already: no confirmation
    again = cli(world, tmp_path, "import", str(listing), "--confirmed")
    assert "2 already subscribed" in again.output
    listed = cli(world, tmp_path, "list")
    assert listed.exit_code == 0 and listed.stdout.split() == [ADA, GRACE]

    added = cli(world, tmp_path, "add", MALLORY, "--weekly")
    assert added.exit_code == 0, added.output
    assert "confirm" in str(world.outbox.to(MALLORY)[0]["Subject"])
    assert cli(world, tmp_path, "list").stdout.split() == [ADA, GRACE]  # still double opt-in

    removed = cli(world, tmp_path, "remove", GRACE)
    assert removed.exit_code == 0 and "removed" in removed.output
    assert cli(world, tmp_path, "list").stdout.split() == [ADA]
    assert world.outbox.to(GRACE) == []  # removing mails nobody
    # someone who left is not brought back by importing the old list again
    back = cli(world, tmp_path, "import", str(listing), "--confirmed")
    assert "not imported: left or bounced" in back.output
    assert cli(world, tmp_path, "list").stdout.split() == [ADA]


def test_ci_logs_show_no_full_address(world: World, tmp_path: Path) -> None:
    subscribe(world, ADA)
    world.write(GRACE, "subscribe")
    outputs = [
        cli(world, tmp_path, "sync", CI="true").output,
        cli(world, tmp_path, "list", GITHUB_ACTIONS="true").output,
        cli(world, tmp_path, "add", MALLORY, CI="1").output,
        cli(world, tmp_path, "remove", ADA, CI="1").output,
    ]
    site = built_site(world, tmp_path)
    dry_run = send_cli(
        world, tmp_path, DATE, "--to", GRACE, "--dry-run", "--outbox", str(site), CI="true"
    )
    outputs.append(dry_run.output)
    everything = "\n".join(outputs)
    assert "g***@example.com" in everything and "a***@example.com" in everything
    for address in (ADA, GRACE, MALLORY):
        assert address not in everything


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"NEWSLETTER_IMAP_HOST": ""}, "NEWSLETTER_IMAP_HOST is not set"),
        ({"NEWSLETTER_IMAP_PASSWORD": ""}, "NEWSLETTER_IMAP_USER and NEWSLETTER_IMAP_PASSWORD"),
        ({"NEWSLETTER_IMAP_PORT": "imap"}, "NEWSLETTER_IMAP_PORT must be a port number"),
        ({"NEWSLETTER_IMAP_TLS": "tls"}, "NEWSLETTER_IMAP_TLS must be one of none, starttls, ssl"),
        ({"NEWSLETTER_IMAP_PASSWORD": "wrong-secret-pw"}, "refused the login; check"),
        ({"NEWSLETTER_IMAP_PORT": "1"}, "cannot connect to the list's mailbox at 127.0.0.1:1"),
        ({"NEWSLETTER_LIST_SECRET": ""}, "NEWSLETTER_LIST_SECRET is not set"),
        ({"NEWSLETTER_LIST_SECRET": "short"}, "NEWSLETTER_LIST_SECRET is too short"),
        ({"NEWSLETTER_SMTP_HOST": ""}, "NEWSLETTER_SMTP_HOST is not set"),
    ],
)
def test_missing_or_wrong_settings_give_one_line_and_exit_1(
    world: World, tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    result = cli(world, tmp_path, "sync", **changes)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    assert "wrong-secret-pw" not in result.output and imap_server.PASSWORD not in result.output


# --- the pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "kind", "cadence"),
    [
        ("subscribe", "subscribe", "daily"),
        ("  Subscribe  ", "subscribe", "daily"),
        ("구독", "subscribe", "daily"),
        ("subscribe weekly", "subscribe", "weekly"),
        ("주간 구독", "subscribe", "weekly"),
        ("unsubscribe", "unsubscribe", "daily"),
        ("구독 해지", "unsubscribe", "daily"),
        ("Re: RE: Fwd: unsubscribe", "unsubscribe", "daily"),
        ("please subscribe me to your list", "ignore", "daily"),
        ("", "ignore", "daily"),
    ],
)
def test_commands_are_read_from_the_subject(subject: str, kind: str, cadence: str) -> None:
    command = command_in_subject(subject, ADA)
    assert (command.kind, command.cadence) == (kind, cadence)


def test_a_reply_to_a_confirmation_keeps_its_token() -> None:
    tokens = Tokens(SECRET.encode())
    token = tokens.confirm("subscribe-weekly", ADA, 1_700_000_000_000)
    command = command_in_subject(f"답장: [Daily Papers] 구독 확인: confirm {token}", ADA)
    assert (command.kind, command.token) == ("confirm", token)
    assert tokens.confirmed_action(token, ADA, ("subscribe-daily", "subscribe-weekly")) == (
        "subscribe-weekly"
    )
    assert tokens.confirmed_action(token, GRACE, ("subscribe-weekly",)) is None
    unsubscribe = tokens.unsubscribe(ADA)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", unsubscribe)  # URL-safe, 128 bits
    assert tokens.is_unsubscribe(unsubscribe, "ADA@example.com")
    assert not tokens.is_unsubscribe(unsubscribe, GRACE)
    assert Tokens(b"another-secret-0123456").unsubscribe(ADA) != unsubscribe
    assert tokens.confirmed_action(unsubscribe, ADA, ("subscribe-daily",)) is None


def test_a_message_without_a_sender_is_ignored() -> None:
    message = EmailMessage()
    message["Subject"] = "subscribe"
    assert read_command(message, LIST).kind == "ignore"


def test_the_newest_record_wins_and_unsubscribed_wins_a_tie() -> None:
    state = ListState(
        [
            Record("subscriber", ADA, "daily", 1000, "c1"),
            Record("unsubscribed", ADA, "daily", 2000, "c2"),
            Record("subscriber", GRACE, "daily", 3000, "c3"),
            Record("unsubscribed", GRACE, "daily", 3000, "c4"),
        ]
    )
    assert state.subscribers() == []
    assert state.current(ADA, excluding_command="c2") == state.records[0]
    assert len(state.superseded()) == 2


def test_imap_settings_never_show_the_password() -> None:
    imap = imap_settings_from_env(
        {
            "NEWSLETTER_IMAP_HOST": "imap.example.org",
            "NEWSLETTER_IMAP_USER": "list@example.org",
            "NEWSLETTER_IMAP_PASSWORD": "pw-secret",
        }
    )
    assert (imap.port, imap.tls) == (993, "ssl")
    assert "pw-secret" not in repr(imap) + imap.describe()
    with pytest.raises(ListError, match="NEWSLETTER_IMAP_HOST is not set"):
        imap_settings_from_env({})
