"""A private Debian dovecot on 127.0.0.1 for the tests: its own config, a throwaway
passwd-file user, everything in one temp folder, stopped by the PID in its master.pid."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "list"
PASSWORD = "test-password"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    folder: Path  # everything of this server: config, state, mail, log

    def env(self) -> dict[str, str]:
        """The NEWSLETTER_IMAP_* settings that reach this server."""
        return {
            "NEWSLETTER_IMAP_HOST": self.host,
            "NEWSLETTER_IMAP_PORT": str(self.port),
            "NEWSLETTER_IMAP_USER": self.user,
            "NEWSLETTER_IMAP_PASSWORD": self.password,
            "NEWSLETTER_IMAP_TLS": "none",
        }


def available() -> bool:
    return Path(DOVECOT).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(timeout: float = 15.0) -> ImapServer:
    """Start a dovecot whose every file is in a new folder under the system's temp folder
    (not pytest's: that one is 0700 and other pytest runs may reset it at any time)."""
    # Dovecot refuses to run mail as root; its processes must reach every folder on the
    # way, so the folder is traversable by all and the mail folder belongs to `nobody`.
    folder = Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
    folder.chmod(0o711)
    base, mail = folder / "run", folder / "mail"
    base.mkdir()
    mail.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(mail, nobody.pw_uid, nobody.pw_gid)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = free_port()
    root_only = os.geteuid() == 0
    config = folder / "dovecot.conf"
    config.write_text(
        f"""
base_dir = {base}
state_dir = {base}
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
mail_uid = {nobody.pw_uid}
mail_gid = {nobody.pw_gid}
first_valid_uid = {min(nobody.pw_uid, 1)}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={nobody.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  {"chroot =" if root_only else ""}
}}
service anvil {{
  {"chroot =" if root_only else ""}
}}
"""
    )
    subprocess.run([DOVECOT, "-c", str(config)], check=True, timeout=timeout)
    server = ImapServer("127.0.0.1", port, USER, PASSWORD, folder)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    log = (folder / "dovecot.log").read_text(errors="replace")[-2000:]
    stop(server)
    raise RuntimeError(f"dovecot did not listen on {port}:\n{log}")


def stop(server: ImapServer) -> None:
    """Stop it by the PID in its master.pid, wait until it is gone, remove its folder."""
    pid_file = server.folder / "run" / "master.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    shutil.rmtree(server.folder, ignore_errors=True)
