"""Bullet Markdown → HTML and text: safe, correct links, and the plain-text fast path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.markup import _is_plain, _render_markdown, inline_html, inline_text


def test_url_followed_by_korean_links_only_the_url() -> None:
    source = "코드는 https://github.com/eloialonso/diamond에서 공개했습니다."
    assert inline_html(source) == (
        '코드는 <a href="https://github.com/eloialonso/diamond">'
        "https://github.com/eloialonso/diamond</a>에서 공개했습니다."
    )
    assert inline_text(source) == source


def test_markdown_link_keeps_its_text_and_shows_url_in_plain_text() -> None:
    source = "관련 코드는 [이 링크](https://github.com/XuezheMax/megalodon)에서 확인"
    assert '<a href="https://github.com/XuezheMax/megalodon">이 링크</a>에서' in inline_html(source)
    assert (
        inline_text(source)
        == "관련 코드는 이 링크 (https://github.com/XuezheMax/megalodon)에서 확인"
    )


def test_url_in_parentheses_stops_at_the_parenthesis() -> None:
    html = inline_html("ChatGLM(https://chatglm.cn)에 적용")
    assert html == 'ChatGLM(<a href="https://chatglm.cn">https://chatglm.cn</a>)에 적용'


def test_raw_html_and_script_links_stay_inert() -> None:
    html = inline_html(
        '<script>alert(1)</script> <img src=x onerror="x()"> [a](javascript:alert(1))'
    )
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_emphasis_and_code_render() -> None:
    assert inline_html("*굵게* `a<b`") == "<em>굵게</em> <code>a&lt;b</code>"
    assert inline_text("*굵게* `a<b`") == "굵게 a<b"


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from("가나 abc.:/-()'\"#$%+=>?@^{}|,;0123\t "), max_size=60))
def test_fast_path_renders_exactly_like_markdown_it(source: str) -> None:
    source = source.strip()
    if _is_plain(source):
        assert inline_html(source) == _render_markdown(source)
