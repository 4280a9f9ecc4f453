"""The publish workflow: lint it, then run its own steps on a scratch clone with a new digest."""

from __future__ import annotations

import email
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import Any

import imap_server
import pytest
import yaml
from aiosmtpd.controller import Controller
from imapclient import IMAPClient  # type: ignore[import-untyped]
from site_pages import snapshot

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "publish.yml"
BIN = Path(sys.executable).parent
NEW_DIGEST = "000_ead36ab510c9cfc0.txt"  # 2024-05-22, the newest issue
NEW_DATE = "2024-05-22"
FINISHED = "2024-W16"  # the week of the digest before NEW_DATE (2024-04-16)
PAGES_URL = "https://someone.github.io/newsletter"  # configure-pages gives it without the slash
RECIPIENTS = ["ada@example.org", "grace@example.org"]


def workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return document


def step(job: str, step_id: str) -> dict[str, Any]:
    return next(s for s in workflow()["jobs"][job]["steps"] if s.get("id") == step_id)


def all_steps() -> Iterator[dict[str, Any]]:
    for job in workflow()["jobs"].values():
        yield from job["steps"]


# --- the workflow file itself ------------------------------------------------------------


def tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else name


def test_workflow_matches_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_to_fix() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    uses = [s["uses"] for s in all_steps() if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_permissions_are_least_privilege() -> None:
    document = workflow()
    assert document["permissions"] == {}
    jobs = document["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    for name in ("build", "mail", "subscribers"):
        granted = jobs[name]["permissions"]
        assert "write" not in granted.values() and "id-token" not in granted, name


def test_run_steps_take_untrusted_values_through_env_only() -> None:
    runs = [s["run"] for s in all_steps() if "run" in s]
    assert runs and not any("${{" in run for run in runs)


def test_secrets_reach_only_the_steps_that_mail_or_sync() -> None:
    allowed = [step("mail", "mail"), step("mail", "sync"), step("subscribers", "sync")]
    for candidate in all_steps():
        mentions_secrets = "secrets." in yaml.safe_dump(candidate)
        assert mentions_secrets == (candidate in allowed), candidate
        mentions_imap = "secrets.NEWSLETTER_IMAP_PASSWORD" in yaml.safe_dump(candidate)
        assert mentions_imap == (candidate in allowed), candidate


def test_the_list_is_synced_hourly_and_right_before_mailing() -> None:
    document = workflow()
    triggers = document.get("on") or document[True]  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] == [{"cron": "17 * * * *"}]
    assert document["jobs"]["subscribers"]["if"] == "github.event_name == 'schedule'"
    for name in ("build", "deploy", "mail"):
        assert document["jobs"][name]["if"] == "github.event_name != 'schedule'", name
    mail_steps = [s.get("id") for s in document["jobs"]["mail"]["steps"]]
    assert mail_steps.index("sync") == mail_steps.index("mail") - 1
    assert "concurrency" not in document["jobs"]["subscribers"]  # the workflow's own group


def test_mailing_runs_one_at_a_time_without_cancelling() -> None:
    concurrency = workflow()["concurrency"]
    assert concurrency["cancel-in-progress"] is False and concurrency["group"]


# --- the workflow's own steps on a scratch clone -------------------------------------------


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def clone(tmp_path: Path, seeds_dir: Path) -> Path:
    """A clone of a repository holding the workflow and every digest but the newest."""
    origin = tmp_path / "origin"
    (origin / "seeds").mkdir(parents=True)
    shutil.copytree(REPO / ".github", origin / ".github")
    for digest in sorted(seeds_dir.glob("*.txt")):
        if digest.name != NEW_DIGEST:
            shutil.copy(digest, origin / "seeds")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "Earlier issues")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    return tmp_path / "clone"


def run_step(
    job: str, step_id: str, folder: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run one step's `run:` as the runner does for `shell: bash`, with the values the
    workflow would put in its `env:` (every one of them must be given)."""
    definition = step(job, step_id)
    assert workflow()["defaults"]["run"]["shell"] == "bash"
    wanted = set(definition.get("env", {}))
    assert wanted <= set(env), f"the test does not provide {wanted - set(env)}"
    variables = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    variables["PATH"] = f"{BIN}{os.pathsep}{variables['PATH']}"
    variables.update({key: env[key] for key in wanted})
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", definition["run"]],
        cwd=folder,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def publish(folder: Path) -> None:
    """The build job's own steps, in order."""
    for step_id in ("check", "build"):
        ok(run_step("build", step_id, folder, {"BASE_URL": PAGES_URL}))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def send_command_exists() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "send", "--help"], capture_output=True, timeout=60
    )
    return result.returncode == 0


def mail_env(before: str, after: str, smtp_port: int, recipients: str) -> dict[str, str]:
    return {
        "EVENT_NAME": "push",
        "BEFORE": before,
        "AFTER": after,
        "NEWSLETTER_SMTP_HOST": "127.0.0.1" if recipients else "",
        "NEWSLETTER_SMTP_PORT": str(smtp_port),
        "NEWSLETTER_SMTP_USER": "",
        "NEWSLETTER_SMTP_PASSWORD": "",
        "NEWSLETTER_SMTP_TLS": "none",
        "NEWSLETTER_RECIPIENTS": recipients,
        # no mailing list here: test_mailing.py runs one against dovecot
        "NEWSLETTER_IMAP_HOST": "",
        "NEWSLETTER_IMAP_PORT": "",
        "NEWSLETTER_IMAP_USER": "",
        "NEWSLETTER_IMAP_PASSWORD": "",
        "NEWSLETTER_IMAP_TLS": "",
        "NEWSLETTER_LIST_SECRET": "",
    }


def add_new_digest(clone: Path, seeds_dir: Path) -> tuple[str, str]:
    before = git(clone, "rev-parse", "HEAD")
    shutil.copy(seeds_dir / NEW_DIGEST, clone / "seeds")
    (clone / "seeds" / "001_747b4ef4e477ff6c.txt").open("a", encoding="utf-8").write("\n")
    git(clone, "add", "seeds")
    git(clone, "commit", "-q", "-m", "New issue; an older one edited")
    return before, git(clone, "rev-parse", "HEAD")


def mail(clone: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The mail job's own steps after checkout: rebuild, then mail."""
    ok(run_step("mail", "build", clone, {"BASE_URL": PAGES_URL}))
    return run_step("mail", "mail", clone, env)


def test_a_pushed_digest_is_published_and_mailed_once(
    clone: Path, seeds_dir: Path, inbox: tuple[Inbox, int]
) -> None:
    if not send_command_exists():
        pytest.skip("`newsletter send` is not on this branch yet")
    received, port = inbox
    before, after = add_new_digest(clone, seeds_dir)
    publish(clone)
    assert (clone / "public" / "issues" / NEW_DATE / "index.html").is_file()
    env = mail_env(before, after, port, "\n".join(RECIPIENTS))
    ok(mail(clone, env))
    # The new digest (2024-W21) finished the week of the one before it (2024-04-16, W16).
    assert mailed(received) == {(NEW_DATE, r) for r in RECIPIENTS} | {
        (FINISHED, r) for r in RECIPIENTS
    }
    ok(mail(clone, env))
    assert len(received.messages) == 2 * len(RECIPIENTS), "the second run mailed again"


def mailed(inbox: Inbox) -> set[tuple[str, str]]:
    """(edition, recipient) of every message received, the edition told by its Message-ID."""
    editions = set()
    for recipients, message in inbox.messages:
        found = re.match(r"<(?:issue|weekly)-(\S+?)\.r[0-9a-f]+@", str(message["Message-ID"]))
        assert found and len(recipients) == 1, message["Message-ID"]
        editions.add((found[1], recipients[0]))
    return editions


def push_digest(clone: Path, seeds_dir: Path, date: str) -> tuple[str, str]:
    """Commit one more digest (the newest seed's papers) dated `date`; (before, after)."""
    before = git(clone, "rev-parse", "HEAD")
    text = (seeds_dir / NEW_DIGEST).read_text(encoding="utf-8")
    (clone / "seeds" / f"{date}.txt").write_text(text.replace(NEW_DATE, date, 1), "utf-8")
    git(clone, "add", "seeds")
    git(clone, "commit", "-q", "-m", f"Issue of {date}")
    return before, git(clone, "rev-parse", "HEAD")


def test_a_week_is_mailed_by_the_push_that_finishes_it_and_only_that_one(
    clone: Path, seeds_dir: Path, inbox: tuple[Inbox, int]
) -> None:
    received, port = inbox
    recipients = "\n".join(RECIPIENTS)
    before, after = add_new_digest(clone, seeds_dir)
    ok(mail(clone, mail_env(before, after, port, recipients)))
    assert {edition for edition, _ in mailed(received)} == {NEW_DATE, FINISHED}

    # Later in the same week: its daily issue only; no week is finished again, even with
    # the delivery ledger gone.
    (clone / ".newsletter" / "deliveries.log").unlink()
    before, after = push_digest(clone, seeds_dir, "2024-05-24")
    assert finished_weeks(clone, before, after) == []
    received.messages.clear()
    ok(mail(clone, mail_env(before, after, port, recipients)))
    assert mailed(received) == {("2024-05-24", r) for r in RECIPIENTS}

    # The first digest of the next week finishes 2024-W21 (05-22 and 05-24, not yet mailed).
    before, after = push_digest(clone, seeds_dir, "2024-05-27")
    assert finished_weeks(clone, before, after) == ["2024-W21"]
    received.messages.clear()
    ok(mail(clone, mail_env(before, after, port, recipients)))
    assert {e for e, _ in mailed(received)} == {"2024-05-27", "2024-W21"}
    weekly = [m for _, m in received.messages if "<weekly-" in str(m["Message-ID"])]
    assert len(weekly) == len(RECIPIENTS)
    assert "Your Transformer is Secretly Linear" in message_text(weekly[0])


def finished_weeks(clone: Path, before: str, after: str) -> list[str]:
    listed = subprocess.run(
        [".github/scripts/finished-weeks.sh"],
        cwd=clone,
        env={
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "BEFORE": before,
            "AFTER": after,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def message_text(message: Message) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk() if not p.is_multipart()]
    return str(message["Subject"]) + "".join(p.decode("utf-8", "replace") for p in parts if p)


def test_added_digests_lists_only_the_issue_the_push_added(clone: Path, seeds_dir: Path) -> None:
    before, after = add_new_digest(clone, seeds_dir)
    env = {"BEFORE": before, "AFTER": after}
    listed = subprocess.run(
        [".github/scripts/added-digests.sh"],
        cwd=clone,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == [NEW_DATE]


def test_a_new_branch_push_counts_only_its_last_commit(clone: Path, seeds_dir: Path) -> None:
    _, after = add_new_digest(clone, seeds_dir)
    env = {"BEFORE": "0" * 40, "AFTER": after, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    listed = subprocess.run(
        [".github/scripts/added-digests.sh"],
        cwd=clone,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == [NEW_DATE]


def test_without_smtp_secrets_mailing_is_skipped_with_a_notice(
    clone: Path, seeds_dir: Path
) -> None:
    before, after = add_new_digest(clone, seeds_dir)
    publish(clone)
    result = ok(mail(clone, mail_env(before, after, 25, "")))
    assert "::notice::" in result.stdout and NEW_DATE in result.stdout


def test_without_imap_secrets_the_sync_says_so_and_does_not_fail(clone: Path) -> None:
    env = {name: "" for name in step("subscribers", "sync")["env"]}
    result = ok(run_step("subscribers", "sync", clone, env))
    assert "::notice::no mailing list" in result.stdout


def test_the_scheduled_sync_answers_the_mailbox_and_masks_addresses_in_the_log(
    clone: Path, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    received, smtp_port = inbox
    server = imap_server.start()
    try:
        client = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
        client.login(server.user, server.password)
        client.append(
            "INBOX",
            b"From: Ada <ada@example.org>\r\nTo: newsletter@example.org\r\n"
            b"Subject: subscribe\r\nMessage-ID: <1@example.org>\r\n\r\nhello\r\n",
        )
        client.logout()
        monkeypatch.setenv("GITHUB_ACTIONS", "true")  # as on the runner
        env = {
            **server.env(),
            "NEWSLETTER_LIST_SECRET": "a-secret-for-the-workflow-test",
            "NEWSLETTER_SMTP_HOST": "127.0.0.1",
            "NEWSLETTER_SMTP_PORT": str(smtp_port),
            "NEWSLETTER_SMTP_USER": "",
            "NEWSLETTER_SMTP_PASSWORD": "",
            "NEWSLETTER_SMTP_TLS": "none",
        }
        result = ok(run_step("subscribers", "sync", clone, env))
    finally:
        imap_server.stop(server)
    ((recipients, confirmation),) = received.messages
    assert recipients == ["ada@example.org"] and "confirm" in str(confirmation["Subject"])
    assert "a***@example.org" in result.stdout
    assert "ada@example.org" not in result.stdout + result.stderr


def test_a_manual_run_publishes_but_mails_nothing(clone: Path) -> None:
    env = mail_env("", git(clone, "rev-parse", "HEAD"), 25, "ada@example.org")
    result = ok(mail(clone, {**env, "EVENT_NAME": "workflow_dispatch"}))
    assert "::notice::" in result.stdout


def test_a_malformed_digest_fails_the_run_and_keeps_the_previous_site(clone: Path) -> None:
    publish(clone)
    previous = snapshot(clone / "public")
    broken = clone / "seeds" / "009_broken.txt"
    broken.write_text(
        "## Daily Papers (2024-06-01)\n\n### [A paper](https://arxiv.org/abs/2406.00001)\n\n"
        "Vote: many\n\nAuthors: Someone\n\n- A bullet.\n",
        encoding="utf-8",
    )
    git(clone, "add", "seeds")
    git(clone, "commit", "-q", "-m", "A broken digest")
    check = run_step("build", "check", clone, {})
    assert check.returncode == 1
    assert "::error file=seeds/009_broken.txt,line=5::" in check.stdout
    assert "seeds/009_broken.txt:5: " in check.stderr
    # Even if the build step ran anyway, it would leave the published output alone.
    build = run_step("build", "build", clone, {"BASE_URL": PAGES_URL})
    assert build.returncode == 1 and "seeds/009_broken.txt:5: " in build.stderr
    assert snapshot(clone / "public") == previous
