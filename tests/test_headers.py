"""The Subject header: whatever the title, the standard `email` parser decodes it exactly."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.headers import folded_header

ENGLISH = "Dynamically allocating compute in transformer-based language models"


def decoded_subject(value: str) -> str:
    raw = f"Subject: {value}\r\nFrom: a@example.org\r\n\r\nbody\r\n".encode("ascii")
    return str(message_from_bytes(raw, policy=default_policy)["Subject"])


def assert_well_formed(value: str) -> None:
    lines = f"Subject: {value}".split("\r\n")
    assert all(len(line) <= 78 for line in lines), lines
    assert all(line.startswith(" ") for line in lines[1:])


@pytest.mark.parametrize(
    "subject",
    [
        f"[Daily Papers] 2024-04-04 · Mixture-of-Depths: {ENGLISH} 외 7편",
        f"[Daily Papers] 2024-04-11 · {ENGLISH} {ENGLISH} 외 6편",
        "[Daily Papers] 2024-05-22 · 트랜스포머는 사실 선형이다 그리고 "
        + "아주 긴 한국어 제목이 이어집니다 외 12편",
        "A =?utf-8?q?not_an_encoded_word?= title",
        "x" * 200,
    ],
)
def test_subject_decodes_to_the_exact_title_with_every_space(subject: str) -> None:
    value = folded_header("Subject", subject)
    assert_well_formed(value)
    assert decoded_subject(value) == subject


words = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(words, st.sampled_from(["외", "7편", "·", "LLM:", "(a)"])), min_size=1))
def test_any_single_spaced_title_decodes_exactly(title_words: list[str]) -> None:
    subject = " ".join(title_words)
    value = folded_header("Subject", subject)
    assert_well_formed(value)
    assert decoded_subject(value) == subject
