"""The text part's wrapping: greedy, word by word, at display columns."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.plaintext import columns, wrap_text


def reference_columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def reference_wrap(line: str, width: int) -> list[str]:
    """Each word on the current line while it fits, else on a new one, indented under the
    text after the line's leading spaces and list marker."""
    if reference_columns(line) <= width:
        return [line]
    head = re.match(r" *(?:[-*] |[0-9]+\. )?", line)[0]  # type: ignore[index]
    first, *words = line[len(head) :].split(" ")
    lines = [head + first]
    for word in words:
        if reference_columns(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(" " * len(head) + word)
    return lines


pieces = st.sampled_from(
    [
        " ",
        " ",
        "  ",
        "a",
        "word",
        "한글",
        "논문은",
        "·",
        "▲",
        "ｗ",
        "é",
        "😀",
        "\u0301",
        "- ",
        "1. ",
    ]
)
urls = st.just("https://arxiv.org/abs/2405.12250#" + "x" * 40)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(pieces, urls, st.text(max_size=3)), max_size=40),
    st.sampled_from([78, 20, 9, 1, 0]),
)
def test_wrap_is_the_greedy_word_by_word_wrap(parts: list[str], width: int) -> None:
    line = "".join(parts).replace("\n", " ")
    assert columns(line) == reference_columns(line)
    assert wrap_text(line, width) == "\n".join(reference_wrap(line, width))


def test_a_korean_bullet_wraps_under_its_text_and_a_url_stays_whole() -> None:
    url = "https://huggingface.co/papers/2405.12250"
    bullet = " - " + "트랜스포머 디코더의 선형성을 밝힌 논문입니다. " * 3 + url
    assert wrap_text(bullet, 40).split("\n") == [
        " - 트랜스포머 디코더의 선형성을 밝힌",
        "   논문입니다. 트랜스포머 디코더의",
        "   선형성을 밝힌 논문입니다. 트랜스포머",
        "   디코더의 선형성을 밝힌 논문입니다.",
        "   " + url,
    ]
