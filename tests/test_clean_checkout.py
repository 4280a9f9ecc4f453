"""A user's checkout stays clean: what build and send write is git-ignored (the delivery
ledger holds subscribers' addresses and must never be committed)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from commands import newsletter

REPO = Path(__file__).resolve().parent.parent


class Inbox:
    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients.extend(envelope.rcpt_tos)
        return "250 2.0.0 accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's start() cannot wait on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_build_and_send_in_a_clone_leave_git_status_clean(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    if subprocess.run(["git", "-C", str(REPO), "rev-parse"], capture_output=True).returncode:
        pytest.skip("the tests do not run from a git checkout")
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(REPO), str(clone), cwd=tmp_path)
    inbox, port = smtp_server
    environment = {key: value for key, value in os.environ.items() if "NEWSLETTER" not in key}
    environment |= {
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(port),
        "NEWSLETTER_SMTP_TLS": "none",
    }
    for command in (["build"], ["send", "2024-05-22", "--to", "reader@example.org"]):
        result = newsletter(*command, cwd=clone, env=environment)
        assert result.returncode == 0, result.stderr
    assert inbox.recipients == ["reader@example.org"]
    assert (clone / ".newsletter").is_dir() and (clone / ".cache").is_dir()  # written, ignored
    assert git("status", "--porcelain", "--untracked-files=all", cwd=clone) == ""
