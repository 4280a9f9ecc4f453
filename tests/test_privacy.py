"""Addresses in logs: in full on a terminal, masked where the log may be public."""

from __future__ import annotations

import pytest

from newsletter.privacy import masked, shown_address


def test_a_terminal_shows_the_whole_address() -> None:
    assert shown_address("ada@example.com", {}) == "ada@example.com"
    assert shown_address("ada@example.com", {"CI": ""}) == "ada@example.com"


@pytest.mark.parametrize("variable", ["CI", "GITHUB_ACTIONS"])
def test_a_ci_log_shows_only_the_first_letter_and_the_domain(variable: str) -> None:
    assert shown_address("ada@example.com", {variable: "true"}) == "a***@example.com"


def test_the_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shown_address("grace@example.org") == "grace@example.org"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert shown_address("grace@example.org") == "g***@example.org"


def test_masking_keeps_no_more_than_one_letter_of_the_mailbox() -> None:
    assert masked("x@example.com") == "x***@example.com"
    assert masked("not-an-address") == "***"
    assert masked("a.b@c@example.com") == "a***@example.com"
