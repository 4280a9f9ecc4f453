"""Sending through a real SMTP server on 127.0.0.1 (aiosmtpd): retries, refusals, re-runs."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from newsletter import send
from newsletter.build import build
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.errors import SendError

DATE = "2024-05-22"
NO_WAIT = (0.0, 0.0, 0.0)


class Mailbox:
    """An aiosmtpd handler that stores what it accepts and misbehaves on request."""

    def __init__(self) -> None:
        self.received: list[tuple[str, EmailMessage]] = []
        self.refuse: set[str] = set()  # 550 on RCPT, every time
        self.busy_once: set[str] = set()  # 451 on RCPT, the first time only
        self.drop_before_accepting: set[str] = set()  # connection cut at end of DATA, once
        self.connections = 0
        self.port = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.busy_once:
            self.busy_once.discard(address)
            return "451 4.3.2 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        (address,) = envelope.rcpt_tos
        if address in self.drop_before_accepting:
            self.drop_before_accepting.discard(address)
            server.transport.close()
            return "421 closing"
        message = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append((address, message))
        return "250 2.0.0 accepted"

    def addresses(self) -> list[str]:
        return [address for address, _ in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, settings: Settings) -> Path:
    """The outbox of a build of the seeds."""
    folder = tmp_path_factory.mktemp("built")
    build(seeds_dir, folder / "public", settings, outbox_dir=folder / "outbox")
    return folder / "outbox"


@pytest.fixture
def issue(built: Path) -> EmailMessage:
    return send.read_issue(send.built_issue_path(built, DATE))


RECIPIENTS = [f"reader{n}@example.com" for n in range(1, 7)]


def sender(mailbox: Mailbox, ledger: Path, **changes: Any) -> send.Sender:
    options: dict[str, Any] = {"rate": 1000.0, "backoff": NO_WAIT, "sleep": lambda seconds: None}
    options.update(changes)
    smtp = send.SmtpSettings("127.0.0.1", mailbox.port, "none")
    return send.Sender(smtp, send.Ledger(ledger), **options)


def test_each_recipient_gets_one_personal_copy_over_one_connection(
    mailbox: Mailbox, issue: EmailMessage, tmp_path: Path
) -> None:
    report = sender(mailbox, tmp_path / "ledger").deliver(issue, DATE, RECIPIENTS)
    assert report.everyone_reached
    assert mailbox.addresses() == RECIPIENTS
    assert mailbox.connections == 1
    ids = set()
    for address, message in mailbox.received:
        assert message["To"] == address
        assert message["Subject"] == issue["Subject"]
        ids.add(message["Message-ID"])
        personal = f"https://papers.example.org/unsubscribe?address={address}"
        assert f"<{personal}>" in message["List-Unsubscribe"]
        text_part, html_part = message.iter_parts()
        assert personal in text_part.get_content()
        assert f'href="{personal}"' in html_part.get_content()
        assert "MIME-Version" not in html_part
    assert len(ids) == len(RECIPIENTS)


def test_per_recipient_message_id_is_the_same_on_every_run(issue: EmailMessage) -> None:
    first = send.personal_copy(issue, "a@example.com")
    again = send.personal_copy(issue, "A@example.com")
    other = send.personal_copy(issue, "b@example.com")
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].startswith("<issue-2024-05-22.r")
    assert first.as_bytes() == send.personal_copy(issue, "a@example.com").as_bytes()


def test_refusals_busy_replies_and_a_dropped_connection(
    mailbox: Mailbox, issue: EmailMessage, tmp_path: Path
) -> None:
    mailbox.refuse = {"reader2@example.com"}
    mailbox.busy_once = {"reader3@example.com"}
    mailbox.drop_before_accepting = {"reader5@example.com"}
    waits: list[float] = []
    report = sender(
        mailbox, tmp_path / "ledger", backoff=(0.5, 1.0, 2.0), sleep=waits.append
    ).deliver(issue, DATE, RECIPIENTS)

    assert not report.everyone_reached
    assert [(o.address, o.status) for o in report.outcomes if o.status != "accepted"] == [
        ("reader2@example.com", "refused")
    ]
    assert "550" in report.with_status("refused")[0].reply
    assert sorted(mailbox.addresses()) == sorted(set(RECIPIENTS) - {"reader2@example.com"})
    assert waits == [0.5, 0.5]  # one backoff for the 451, one for the dropped connection
    assert mailbox.connections == 3  # the first, then a fresh one after each fault
    ledger_lines = (tmp_path / "ledger").read_text().splitlines()
    assert [line.split("\t")[1] for line in ledger_lines].count("accepted") == 5
    refused_key = send.recipient_key("reader2@example.com")
    assert any(f"\trefused\t{refused_key}\t" in line for line in ledger_lines)
    # The ledger is kept in the Actions cache: no address in it, not even in a reply.
    assert "@example.com" not in (tmp_path / "ledger").read_text()


def test_a_ledger_written_with_addresses_still_counts_them(
    mailbox: Mailbox, issue: EmailMessage, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    ledger.write_text(f"{DATE}\taccepted\tReader1@Example.com\t<id>\t250 ok\n")
    report = sender(mailbox, ledger).deliver(issue, DATE, RECIPIENTS[:2])
    assert [o.status for o in report.outcomes] == ["skipped", "accepted"]
    assert mailbox.addresses() == [RECIPIENTS[1]]


def test_rerun_after_a_crash_sends_only_to_the_rest(
    mailbox: Mailbox, issue: EmailMessage, tmp_path: Path
) -> None:
    ledger = tmp_path / ".newsletter" / "deliveries.log"

    class Crash(Exception):
        pass

    def crash_after_third(outcome: send.Outcome) -> None:
        if len(mailbox.received) == 3:
            raise Crash

    with pytest.raises(Crash):
        sender(mailbox, ledger).deliver(issue, DATE, RECIPIENTS, on_outcome=crash_after_third)
    report = sender(mailbox, ledger).deliver(issue, DATE, RECIPIENTS)

    assert report.everyone_reached
    assert [o.status for o in report.outcomes] == ["skipped"] * 3 + ["accepted"] * 3
    assert Counter(mailbox.addresses()) == Counter(RECIPIENTS)  # everyone exactly once


def test_temporary_failures_give_up_after_the_last_backoff(
    mailbox: Mailbox, issue: EmailMessage, tmp_path: Path
) -> None:
    class AlwaysBusy(set[str]):
        def discard(self, address: str) -> None:
            pass

    mailbox.busy_once = AlwaysBusy({"reader1@example.com"})
    report = sender(mailbox, tmp_path / "ledger").deliver(issue, DATE, RECIPIENTS[:2])
    assert [o.status for o in report.outcomes] == ["failed", "accepted"]
    assert "451" in report.outcomes[0].reply
    delivered = send.Ledger(tmp_path / "ledger").delivered(DATE)
    assert delivered == {send.recipient_key("reader2@example.com")}


def test_unreachable_server_fails_fast_for_everyone(issue: EmailMessage, tmp_path: Path) -> None:
    smtp = send.SmtpSettings("127.0.0.1", free_port(), "none")
    waits: list[float] = []
    unreachable = send.Sender(
        smtp, send.Ledger(tmp_path / "ledger"), rate=1000.0, backoff=NO_WAIT, sleep=waits.append
    )
    report = unreachable.deliver(issue, DATE, RECIPIENTS)
    assert {o.status for o in report.outcomes} == {"failed"}
    assert len(waits) == len(NO_WAIT)  # only the first recipient's retries
    assert "not tried" in report.outcomes[-1].reply


def test_rate_limit_spaces_messages(mailbox: Mailbox, issue: EmailMessage, tmp_path: Path) -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    sender(mailbox, tmp_path / "ledger", rate=2.0, sleep=sleep, clock=lambda: now[0]).deliver(
        issue, DATE, RECIPIENTS[:3]
    )
    assert waits == [0.5, 0.5]


def test_recipients_file_reports_the_bad_line(tmp_path: Path) -> None:
    listing = tmp_path / "readers.txt"
    listing.write_text(
        "# readers\nA Reader <a@example.com>\n\nb@example.com  # friend\nnot-an-address\n"
    )
    with pytest.raises(SendError, match=r"readers.txt:5: not an e-mail address: 'not-an-address'"):
        send.read_recipients(listing)
    listing.write_text("a@example.com\nA Reader <b@example.com>\n")
    assert send.read_recipients(listing) == ["a@example.com", "b@example.com"]


def test_smtp_settings_come_from_the_environment() -> None:
    smtp = send.smtp_settings_from_env(
        {"NEWSLETTER_SMTP_HOST": "mail.example.org", "NEWSLETTER_SMTP_TLS": "ssl"}
    )
    assert (smtp.host, smtp.port, smtp.tls) == ("mail.example.org", 465, "ssl")
    with pytest.raises(SendError, match="NEWSLETTER_SMTP_HOST is not set"):
        send.smtp_settings_from_env({})
    with pytest.raises(SendError, match="NEWSLETTER_SMTP_TLS must be one of"):
        send.smtp_settings_from_env({"NEWSLETTER_SMTP_HOST": "h", "NEWSLETTER_SMTP_TLS": "tls"})
    secret = send.smtp_settings_from_env(
        {
            "NEWSLETTER_SMTP_HOST": "h",
            "NEWSLETTER_SMTP_USER": "u",
            "NEWSLETTER_SMTP_PASSWORD": "pw-secret",
        }
    )
    assert "pw-secret" not in repr(secret) + secret.describe()


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, ["send", *args], env=env)


def test_send_command_delivers_and_second_run_sends_nothing(
    mailbox: Mailbox, built: Path, tmp_path: Path
) -> None:
    env = {
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(mailbox.port),
        "NEWSLETTER_SMTP_TLS": "none",
        "NEWSLETTER_SMTP_PASSWORD": "",
        "NEWSLETTER_SMTP_USER": "",
    }
    listing = tmp_path / "readers.txt"
    listing.write_text("\n".join(RECIPIENTS[1:]) + "\n")
    args = [
        DATE,
        "--to",
        RECIPIENTS[0],
        "--recipients",
        str(listing),
        "--outbox",
        str(built),
        "--ledger",
        str(tmp_path / "ledger"),
    ]
    first = run_cli(args, env)
    assert first.exit_code == 0, first.output
    assert "sent to 6, 0 already delivered, of 6 recipients" in first.output
    second = run_cli(args, env)
    assert second.exit_code == 0, second.output
    assert "sent to 0, 6 already delivered" in second.output
    assert Counter(mailbox.addresses()) == Counter(RECIPIENTS)


def test_send_command_exits_1_and_names_refused_recipients(
    mailbox: Mailbox, built: Path, tmp_path: Path
) -> None:
    mailbox.refuse = {"reader2@example.com"}
    env = {
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(mailbox.port),
        "NEWSLETTER_SMTP_TLS": "none",
    }
    result = run_cli(
        [
            DATE,
            "--to",
            RECIPIENTS[0],
            "--to",
            RECIPIENTS[1],
            "--outbox",
            str(built),
            "--ledger",
            str(tmp_path / "l"),
        ],
        env,
    )
    assert result.exit_code == 1
    assert "refused (permanent): reader2@example.com: 550" in result.output


def test_dry_run_connects_to_nothing(mailbox: Mailbox, built: Path, tmp_path: Path) -> None:
    result = run_cli(
        [
            DATE,
            "--to",
            "a@example.com",
            "--outbox",
            str(built),
            "--dry-run",
            "--ledger",
            str(tmp_path / "l"),
        ],
        {"NEWSLETTER_SMTP_HOST": "127.0.0.1", "NEWSLETTER_SMTP_PORT": str(mailbox.port)},
    )
    assert result.exit_code == 0, result.output
    assert "send  a@example.com" in result.output
    assert "Your Transformer is Secretly Linear" in result.output
    assert mailbox.connections == 0 and mailbox.received == []
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["2030-01-01", "--to", "a@example.com"],
            {"NEWSLETTER_SMTP_HOST": "h"},
            "no built issue for 2030-01-01 in ",
        ),
        (
            ["22-05-2024", "--to", "a@example.com"],
            {"NEWSLETTER_SMTP_HOST": "h"},
            "'22-05-2024' is neither a daily issue's date (YYYY-MM-DD) "
            "nor a weekly edition's week (YYYY-Www, e.g. 2024-W21)",
        ),
        (
            ["2030-W01", "--to", "a@example.com"],
            {"NEWSLETTER_SMTP_HOST": "h"},
            "no built issue for 2030-W01 in",
        ),
        (
            [DATE, "--to", "a@example"],
            {"NEWSLETTER_SMTP_HOST": "h"},
            "--to 'a@example': not an e-mail address",
        ),
        ([DATE], {"NEWSLETTER_SMTP_HOST": "h"}, "no recipients"),
        (
            [DATE, "--to", "a@example.com"],
            {"NEWSLETTER_SMTP_HOST": ""},
            "NEWSLETTER_SMTP_HOST is not set",
        ),
    ],
)
def test_send_command_refuses_before_sending(
    built: Path, tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run_cli([*args, "--outbox", str(built), "--ledger", str(tmp_path / "l")], env)
    assert result.exit_code == 1
    assert message in result.output


def test_a_missing_issue_is_reported_with_the_nearest_built_ones(built: Path) -> None:
    with pytest.raises(SendError) as missing:
        send.built_issue_path(built, "2024-04-12")
    assert "(nearest built: 2024-04-04, 2024-04-11, 2024-04-16, 2024-05-22)" in str(missing.value)
    with pytest.raises(SendError) as late:
        send.built_issue_path(built, "2030-01-01")
    assert "(nearest built: 2024-04-16, 2024-05-22)" in str(late.value)


def test_no_email_file_is_left_in_the_site(built: Path) -> None:
    site = built.parent / "public"
    assert (site / "issues" / DATE / "index.html").is_file()
    assert not [p for p in site.rglob("*") if p.name.startswith("email.") or p.suffix == ".eml"]
