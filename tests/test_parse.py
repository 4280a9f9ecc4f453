# ruff: noqa: E501  (the expectation table quotes whole titles and Korean text from the seeds)
"""The digest parser: every paper of the real seeds, the format's variants, every malformed
case with its exact message and line, and a fuzz test that it fails only with DigestError."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter import parse
from newsletter.config import Settings
from newsletter.errors import DigestError, Problem
from newsletter.feeds import feed_files
from newsletter.mail import issue_email_files
from newsletter.model import (
    Digest,
    Paper,
    digest_as_dict,
    digest_from_dict,
    outline_as_row,
    outline_from_row,
)
from newsletter.parse import parse_bytes, parse_file, parse_files, parse_text
from newsletter.site import issue_page_files

MALFORMED = Path(__file__).parent / "data" / "malformed"

# Read off the seed files by eye (and a plain line scan, no Markdown parser), one row per
# paper in file order: file prefix | heading line | arXiv id | media | votes | authors |
# first author | last author | "+" elision | bullets | first bullet begins | last bullet
# ends | title
SEED_PAPERS = """
000 |   3 | 2405.12250 | thumbnail | 55 |  7 | Matvey Mikhalchuk | Ivan Oseledets | - | 6 | 이 논문은 트랜스포머 디코더, | 수 있다는 것을 제안합니다. | Your Transformer is Secretly Linear
000 |  18 | 2405.12399 | thumbnail | 13 |  7 | Adam Jelley | Anssi Kanervisto | - | 7 | 'Diffusion for W | iamond에서 공개했습니다. | Diffusion for World Modeling: Visual Details Matter in Atari
000 |  34 | 2405.12970 | thumbnail |  9 | 10 | Jiangning Zhang | Xiangtai Li | - | 7 | 최근 얼굴 재연과 얼굴 교환 | 모델과 원활하게 통합됩니다. | Face Adapter for Pre-Trained Diffusion Models with Fine-Grained ID and Attribute Control
000 |  50 | 2405.12981 | thumbnail |  9 |  5 | Mayank Mishra | Jonathan Ragan Kelly | - | 4 | 트랜스포머 기반의 자동 회귀형 | 기에서 추론을 가능하게 한다. | Reducing Transformer Key-Value Cache Size with Cross-Layer Attention
000 |  63 | 2405.12979 | thumbnail |  5 |  5 | Qixing Huang | Andre Araujo | - | 5 | 이 논문은 새로운 도메인에서의 | 우수한 성능을 보여주었습니다. | OmniGlue: Generalizable Feature Matching with Foundation Model Guidance
000 |  77 | 2405.12978 | thumbnail |  4 |  7 | Matthew Fisher | Cusuh Ham | - | 5 | 본 논문에서는 사전 훈련된 텍 | 행으로 사용할 수 있게 한다. | Personalized Residuals for Concept-Driven Text-to-Image Generation
001 |   3 | 2404.02258 | thumbnail | 43 |  6 | Timothy Lillicrap | Adam Santoro | - | 6 | 트랜스포머 기반 언어 모델들은 | 더 빠르게 처리할 수 있다. | Mixture-of-Depths: Dynamically allocating compute in transformer-based language models
001 |  18 | 2404.02905 | thumbnail | 34 |  5 | Zehuan Yuan | Keyu Tian | - | 9 | 저희는 에서 이미지 생성을 위 | 탐색을 촉진시키고 있습니다. | Visual Autoregressive Modeling: Scalable Image Generation via Next-Scale Prediction
001 |  36 | 2404.02575 | thumbnail | 30 | 11 | Beong-woo Kwak | Jiwan Chung | - | 6 | 알고리즘적 추론은 복잡한 문제 | 안내할 수 있음을 시사합니다. | Language Models as Compilers: Simulating Pseudocode Execution Improves Algorithmic Reasoning in Language Models
001 |  51 | 2404.02883 | thumbnail | 14 | 10 | Zhuowen Tu | Stefano Soatto | - | 10 | 텍스트-이미지(T2I) 모델의 | 하는 스케일링 함수를 제공함. | On the Scalability of Diffusion-based Text-to-Image Generation
001 |  70 | 2404.02893 | thumbnail | 12 | 12 | Zhenyu Hou | Xinghan Liu | - | 7 | 대규모 언어 모델(LLMs)은 | M/ChatGLM-Math). | ChatGLM-Math: Improving Math Problem-Solving in Large Language Models with a Self-Critique Pipeline
001 |  86 | 2404.02733 | thumbnail | 12 |  5 | Anthony Chen | Qixun Wang | - | 5 | 본 논문에서는 이미지 개인화 | yle 에서 공개될 예정이다. | InstantStyle: Free Lunch towards Style-Preserving in Text-to-Image Generation
001 | 100 | 2404.02747 | thumbnail |  9 |  6 | Jinheng Xie | Jürgen Schmidhuber | - | 8 | 본 연구는 텍스트 조건부 확산 | E 에서 이용할 수 있습니다. | Cross-Attention Makes Inference Cumbersome in Text-to-Image Diffusion Models
001 | 117 | 2404.02514 | thumbnail |  8 |  6 | Weihao Yuan | Zilong Dong | - | 7 | 본 논문은 주파수 분해를 통해 | or/ 에서 확인할 수 있다. | Freditor: High-Fidelity and Transferable NeRF Editing by Frequency Decomposition
002 |   3 | 2404.09656 | thumbnail | 54 |  8 | Alexey Gorbatovski | Ian Maksimov | - | 6 | 본 논문에서는 기존 언어 모델 | 품질을 향상시킬 수 있습니다. | Learn Your Reference Model for Real Good Alignment
002 |  18 | 2404.08801 | thumbnail | 29 | 10 | Omer Levy | Beidi Chen | - | 6 | 트랜스포머의 제곱 복잡도와 약 | n)에서 확인할 수 있습니다. | Megalodon: Efficient LLM Pretraining and Inference with Unlimited Context Length
002 |  33 | 2404.09173 | thumbnail | 26 |  5 | Dongseong Hwang | Weiran Wang | - | 6 | 트랜스포머는 딥러닝을 혁신하였 | 수 있는 잠재력을 보여줍니다. | TransformerFAM: Feedback attention is working memory
002 |  48 | 2404.09937 | thumbnail | 18 |  4 | Junxian He | Yuzhen Huang | - | 6 | 압축을 잘 배우는 것이 지능을 | 라인을 오픈소스로 제공합니다. | Compression Represents Intelligence Linearly
002 |  63 | 2404.09833 | thumbnail | 16 |  4 | Zhi-Hao Lin | Shenlong Wang | - | 5 | 복잡하고 비용이 많이 드는 수 | 구축할 수 있음을 보여줍니다. | Video2Game: Real-time, Interactive, Realistic and Browser-Compatible Environment from a Single Video
002 |  77 | 2404.09967 | thumbnail | 12 |  4 | Han Lin | Jaemin Cho | - | 5 | Ctrl-Adapter는 이미 | 계산 비용을 필요로 합니다. | Ctrl-Adapter: An Efficient and Versatile Framework for Adapting Diverse Controls to Any Diffusion Model
002 |  91 | 2404.09990 | thumbnail |  9 |  8 | Yuyin Zhou | Mude Hui | - | 7 | 이 연구에서는 약 20만 개의 | eb에서 확인할 수 있습니다. | HQ-Edit: A High-Quality Dataset for Instruction-based Image Editing
002 | 107 | 2404.09956 | thumbnail |  8 |  6 | Rada Mihalcea | Navonil Majumder | - | 4 | 본 연구는 텍스트에서 오디오로 | 방법 모두에서 측정되었습니다. | Tango 2: Aligning Diffusion-based Text-to-Audio Generations through Direct Preference Optimization
002 | 120 | 2404.09204 | thumbnail |  7 |  6 | Wei Zeng | Xiaoyu Zheng | - | 8 | 다양한 모달 작업에서 인상적인 | 효과성과 우수성을 입증한다. | TextHawk: Exploring Efficient Fine-Grained Perception of Multimodal Large Language Models
002 | 137 | 2404.08856 | thumbnail |  6 |  6 | Junyoung Park | Mingu Lee | - | 5 | 다양한 모드의 대규모 언어 모 | 도 비슷한 결과를 유지합니다. | On Speculative Decoding for Multimodal Large Language Models
002 | 151 | 2404.09458 | thumbnail |  5 |  6 | Xiangrui Liu | Xinju Wu | - | 7 | 가우시안 스플래팅은 뛰어난 렌 | tHub에 공개될 예정입니다. | CompGS: Efficient 3D Scene Representation via Compressed Gaussian Splatting
002 | 167 | 2404.09995 | thumbnail |  5 |  8 | Chieh Hubert Lin | Jia-Bin Huang | - | 8 | Neural Radiance | F 인페인팅 결과를 제공한다. | Taming Latent Diffusion Model for Neural Radiance Field Inpainting
003 |   3 | 2402.13753 | thumbnail | 50 |  8 | Ning Shang | Chengruidong Zhang | - | 5 | 큰 언어 모델의 컨텍스트 윈도 | 적화를 재사용할 수 있습니다. | LongRoPE: Extending LLM Context Window Beyond 2 Million Tokens
003 |  17 | 2402.13349 | video     | 19 | 22 | Vijay Baiyya | Steve Saarinen | + | 6 | 본 논문에서는 Project | 및 예시도 제공하고 있습니다. | Aria Everyday Activities Dataset
003 |  33 | 2402.13616 | thumbnail | 17 |  3 | Chien-Yao Wang | I-Hau Yeh | - | 9 | 현재 딥러닝 방법들은 모델의 | 9 에서 확인할 수 있습니다. | YOLOv9: Learning What You Want to Learn Using Programmable Gradient Information
003 |  51 | 2402.13929 | thumbnail | 15 |  3 | Xiao Yang | Anran Wang | - | 4 | 본 논문은 SDXL 기반의 1 | 델들을 오픈소스로 제공합니다. | SDXL-Lightning: Progressive Adversarial Diffusion Distillation
003 |  64 | 2402.13598 | thumbnail | 13 |  9 | Jun Xie | Neo Wu | - | 7 | 대규모 언어 모델(LLM)은 | 계층을 추가로 통합하였습니다. | User-LLM: Efficient LLM Contextualization with User Embeddings
003 |  80 | 2402.12479 | thumbnail | 13 |  3 | Aaron Courville | Pablo Samuel Castro | - | 3 | 최근의 연구에 따르면, 딥 강 | "규모의 법칙"을 보여준다. | In deep reinforcement learning, a pruned network is a good network
003 |  92 | 2402.14020 | thumbnail |  8 |  6 | Tom Goldstein | Manli Shu | - | 5 | 최근 대규모 언어 모델(Lar | 재에서 비롯됨을 발견했습니다. | Coercing LLMs to do and reveal (almost) anything
003 | 106 | 2402.14017 | thumbnail |  4 |  6 | Omri Puny | Yaron Lipman | - | 4 | 본 연구에서는, 특정 과제를 | 최고 수준의 성능에 도달했다. | D-Flow: Differentiating through Flows for Controlled Generation
003 | 119 | 2402.13573 | thumbnail |  4 |  3 | Ethan Smith | Aninda Saha | - | 4 | 이미지 확산 모델에서 주의 기 | 달성한다는 것을 보여줍니다. | ToDo: Token Downsampling for Efficient Generation of High-Resolution Images
003 | 132 | 2402.13763 | thumbnail |  4 |  6 | Weiming dong | Changsheng Xu | - | 7 | 확산 모델의 개발로 인해 텍스 | I/에서 확인할 수 있습니다. | Music Style Transfer with Time-Varying Inversion of Diffusion Models
003 | 148 | 2402.13720 | thumbnail |  4 |  6 | Maosong Sun | Xu Han | - | 7 | 'Ouroboros'는 큰 언 | s 에서 확인할 수 있습니다. | Ouroboros: Speculative Decoding with Large Model Enhanced Drafting
003 | 164 | 2402.13577 | thumbnail |  3 |  8 | Wei Bi | Tingchen Fu | - | 5 | 멀티모달 논리 추론은 대규모 | 크게 향상된 것을 보여준다. | BBA: Bi-Modal Behavioral Alignment for Reasoning with Large Vision-Language Models
004 |   3 | 2404.07143 | thumbnail | 37 |  3 | Tsendsuren Munkhdalai | Siddharth Gopal | - | 4 | 이 연구는 메모리와 연산이 적 | 리밍 추론을 가능하게 합니다. | Leave No Context Behind: Efficient Infinite Context Transformers with Infini-attention
004 |  16 | 2404.06654 | thumbnail | 21 |  7 | Simeng Sun | Cheng-Ping Hsieh | - | 7 | 장문의 문맥(Language | 위해 오픈 소스로 공개되었다. | RULER: What's the Real Context Size of Your Long-Context Language Models?
004 |  32 | 2404.07199 | thumbnail | 15 |  4 | Ravi Ramamoorthi | Lingjie Liu | - | 7 | RealmDreamer는 텍스 | 수 있는 일반성을 가집니다. | RealmDreamer: Text-Driven 3D Scene Generation with Inpainting and Depth Diffusion
004 |  48 | 2404.06773 | thumbnail |  9 |  9 | Songyang Zhang | Jiahao Wang | - | 8 | 이 연구는 원래 대규모 언어 | 련된 모델과 코드를 제공한다. | Adapting LLaMA Decoder to Vision Transformer
004 |  65 | 2404.06903 | thumbnail |  8 |  9 | Haoran Chang | Tejas Bharadwaj | - | 7 | 가상 현실 애플리케이션에 대한 | ne360.github.io/ | DreamScene360: Unconstrained Text-to-3D Scene Generation with Panoramic Gaussian Splatting
004 |  81 | 2404.07204 | thumbnail |  8 |  6 | Petra Poklukar | Oğuzhan Fatih Kar | - | 8 | 시각-언어 모델(VLMs)은 | 통합하는 잠재력을 강조한다. | BRAVE: Broadening the visual encoding of vision-language models
004 |  98 | 2404.06780 | thumbnail |  7 |  6 | Fan Lu | Changjun Jiang | - | 9 | 텍스트에서 3D 생성 분야에서 | 구팀의 웹사이트에서 제공된다. | Urban Architect: Steerable 3D Urban Scene Generation with Layout Prior
"""
SEED_DATES = {
    "000": "2024-05-22",
    "001": "2024-04-04",
    "002": "2024-04-16",
    "003": "2024-02-22",
    "004": "2024-04-11",
}


def seed_rows() -> list[list[str]]:
    return [[cell.strip() for cell in row.split("|")] for row in SEED_PAPERS.strip().splitlines()]


def seed_file(prefix: str, seeds_dir: Path) -> Path:
    return next(seeds_dir.glob(f"{prefix}_*.txt"))


@pytest.mark.parametrize("prefix", sorted(SEED_DATES))
def test_every_paper_of_a_real_digest_is_read_as_written(prefix: str, seeds_dir: Path) -> None:
    path = seed_file(prefix, seeds_dir)
    digest = parse_file(path)
    rows = [row for row in seed_rows() if row[0] == prefix]
    assert digest.date == dt.date.fromisoformat(SEED_DATES[prefix])
    assert digest.source_path == path.as_posix()
    assert len(digest.papers) == len(rows)
    for paper, row in zip(digest.papers, rows, strict=True):
        (
            _,
            line,
            arxiv_id,
            media,
            votes,
            authors,
            first,
            last,
            elided,
            bullets,
            head,
            tail,
            title,
        ) = row
        assert paper.line == int(line)
        assert paper.title == title
        assert paper.link == f"https://arxiv.org/abs/{arxiv_id}"
        assert paper.arxiv_id == arxiv_id
        assert (paper.video_url is not None) == (media == "video")
        assert (paper.thumbnail_url is not None) == (media == "thumbnail")
        assert paper.votes == int(votes)
        assert len(paper.authors) == int(authors)
        assert (paper.authors[0], paper.authors[-1]) == (first, last)
        assert paper.authors_truncated == (elided == "+")
        assert len(paper.bullets) == int(bullets)
        assert paper.bullets[0].startswith(head)
        assert paper.bullets[-1].endswith(tail)


def test_every_bullet_line_of_the_seeds_becomes_one_bullet(
    seeds_dir: Path, digests: list[Digest]
) -> None:
    for digest in digests:
        lines = Path(digest.source_path).read_text(encoding="utf-8").splitlines()
        assert sum(len(paper.bullets) for paper in digest.papers) == sum(
            line.startswith("- ") for line in lines
        )


def paper_at(digests: list[Digest], date: str, line: int) -> Paper:
    digest = next(d for d in digests if d.slug == date)
    return next(paper for paper in digest.papers if paper.line == line)


def test_video_entry_keeps_its_video_and_has_no_thumbnail(digests: list[Digest]) -> None:
    paper = paper_at(digests, "2024-02-22", 17)
    assert paper.video_url == (
        "https://cdn-uploads.huggingface.co/production/uploads/"
        "60f1abe7544c2adfd699860c/E0VdLERPAj7O_nwHJzKdi.mp4"
    )
    assert paper.thumbnail_url is None


def test_plus_among_authors_marks_the_list_cut_short_and_is_not_a_name(
    digests: list[Digest],
) -> None:
    paper = paper_at(digests, "2024-02-22", 17)
    assert paper.authors_truncated
    assert "+" not in paper.authors
    assert paper.authors[-3:] == ("Cheng Peng", "Richard Newcombe", "Steve Saarinen")


def test_thumbnail_url_is_taken_from_the_image_line(digests: list[Digest]) -> None:
    paper = paper_at(digests, "2024-05-22", 3)
    assert paper.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2405.12250.png"
    )
    assert paper.video_url is None


def test_bullets_keep_links_and_urls_as_markdown_source(digests: list[Digest]) -> None:
    megalodon = paper_at(digests, "2024-04-16", 18)
    assert megalodon.bullets[-1] == (
        "관련 코드는 [이 링크](https://github.com/XuezheMax/megalodon)에서 확인할 수 있습니다."
    )
    dreamscene = paper_at(digests, "2024-04-11", 65)
    assert dreamscene.bullets[-1] == "프로젝트 웹사이트: http://dreamscene360.github.io/"


def test_digests_come_oldest_first(digests: list[Digest]) -> None:
    assert [digest.slug for digest in digests] == sorted(SEED_DATES.values())


# --- format variants -----------------------------------------------------------------------

PAPER = """\
### [{title}](https://arxiv.org/abs/2405.00001v2)

![](https://example.org/thumb.png)

Vote: 0

Authors: Ada Lovelace,  Alan   Turing , +

- First with `code`, *emphasis*, a URL https://example.org/a_b?x=1&y=2 and (parens).
- Second: 100% <b>not html</b> & "quotes".
"""


def digest_text(title: str = "A paper") -> str:
    return "## Daily Papers (2024-05-22)\n\n" + PAPER.format(title=title)


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("Price of $5 < $6 > $4 & more", "Price of $5 < $6 > $4 & more"),
        ("Q* and R_1 *star* _under_", "Q* and R_1 *star* _under_"),
        ("Arrays [1, 2] and [x]", "Arrays [1, 2] and [x]"),
        (r"An escaped \[ bracket \] and \*", "An escaped [ bracket ] and *"),
        ("Code `a](b` span", "Code `a](b` span"),
        ("<video> is text here", "<video> is text here"),
    ],
)
def test_titles_keep_markdown_special_characters_as_written(written: str, title: str) -> None:
    paper = parse_text(digest_text(written), "x.txt").papers[0]
    assert paper.title == title
    assert paper.link == "https://arxiv.org/abs/2405.00001v2"
    assert paper.arxiv_id == "2405.00001"


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("[Your Transformer ] is Secretly [Linear]", "Your Transformer ] is Secretly [Linear"),
        ("[An open [bracket]", "An open [bracket"),
        ("[A closed ] bracket]", "A closed ] bracket"),
        ("[Nested [brackets] stay]", "Nested [brackets] stay"),
        (r"[Escaped \[ alone]", "Escaped [ alone"),
    ],
)
def test_a_heading_link_keeps_its_text_whatever_its_brackets(heading: str, title: str) -> None:
    text = digest_text().replace("[A paper]", heading)
    paper = parse_text(text, "x.txt").papers[0]
    assert (paper.title, paper.link) == (title, "https://arxiv.org/abs/2405.00001v2")


def test_a_heading_of_two_links_is_still_not_a_paper_heading() -> None:
    text = digest_text().replace("[A paper]", "[A](https://example.org/a) and [B]")
    with pytest.raises(DigestError, match="a paper heading must be a link"):
        parse_text(text, "x.txt")


# Link texts and URLs around the kind the parser reads without markdown-it (parse._PLAIN_*).
link_texts = st.text(st.sampled_from("ab 가*_~!()\"':#.[]\\`<>&;"), max_size=20) | st.text(
    max_size=8
)
link_urls = st.from_regex(parse._PLAIN_URL, fullmatch=True) | st.builds(
    "https://a.org/".__add__, st.text(st.sampled_from('aZ/-%&;()<> #?=\\"é'), max_size=12)
)


@settings(max_examples=500, deadline=None)
@given(link_texts, link_urls)
def test_a_heading_link_reads_as_markdown_it_reads_it(text: str, url: str) -> None:
    source = f"[{text}]({url})"
    assert parse._commonmark_link(source) == parse._parsed_link(source)


@settings(max_examples=500, deadline=None)
@given(link_texts, link_urls)
def test_a_thumbnail_line_reads_as_markdown_it_reads_it(text: str, url: str) -> None:
    source = f"![{text}]({url})"
    assert parse._media(source) == parse._parsed_media(source)


UNWRITABLE_CHARACTERS = [
    ("\x00", "a control character U+0000"),
    ("\x07", "a control character U+0007"),
    ("\x1b", "a control character U+001B"),
    ("\x0c", "a control character U+000C"),
    ("\x7f", "a control character U+007F"),
    ("\x85", "a control character U+0085"),
    ("\ufdd0", "a Unicode noncharacter U+FDD0"),
    ("\uffff", "a Unicode noncharacter U+FFFF"),
    ("\U0010fffe", "a Unicode noncharacter U+10FFFE"),
    ("\u202e", "a bidirectional control character (it reorders the text after it) U+202E"),
    ("\u2066", "a bidirectional control character (it reorders the text after it) U+2066"),
]


@pytest.mark.parametrize(("character", "kind"), UNWRITABLE_CHARACTERS)
def test_a_character_no_output_can_carry_is_reported_where_it_is(character: str, kind: str) -> None:
    text = digest_text(f"A{character} paper").replace("- Second", f"- Sec{character}ond")
    with pytest.raises(DigestError) as raised:
        parse_text(text, "x.txt")
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (3, f"{kind} at column 7; delete it"),
        (12, f"{kind} at column 6; delete it"),
    ]
    assert character not in str(raised.value)  # the terminal sees it escaped


def test_tabs_and_marks_that_only_hint_direction_are_kept() -> None:
    paper = parse_text(digest_text("A\u200fpaper\u200e").replace("- Second", "-\tSecond"), "x")
    assert paper.papers[0].title == "A\u200fpaper\u200e"


def test_a_quoted_heading_shows_control_characters_escaped() -> None:
    text = digest_text().replace("[A paper](https://arxiv.org/abs/2405.00001v2)", "Bell\x07")
    with pytest.raises(DigestError) as raised:
        parse_text(text, "x.txt")
    assert 'found "Bell\\x07"' in str(raised.value)
    assert "\x07" not in str(raised.value)


def test_a_paper_with_every_field_reads_votes_authors_and_bullets() -> None:
    paper = parse_text(digest_text(), "x.txt").papers[0]
    assert paper.votes == 0
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.authors_truncated
    assert paper.bullets == (
        "First with `code`, *emphasis*, a URL https://example.org/a_b?x=1&y=2 and (parens).",
        'Second: 100% <b>not html</b> & "quotes".',
    )


def test_a_link_that_is_not_arxiv_has_no_arxiv_id() -> None:
    text = digest_text().replace("https://arxiv.org/abs/2405.00001v2", "https://example.org/p")
    paper = parse_text(text, "x.txt").papers[0]
    assert (paper.link, paper.arxiv_id) == ("https://example.org/p", None)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda text: text.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda text: "\ufeff" + text, id="bom"),
        pytest.param(lambda text: text.replace("\n", "   \n"), id="trailing-spaces"),
        pytest.param(lambda text: text.rstrip("\n"), id="no-final-newline"),
        pytest.param(lambda text: "\n\n" + text + "\n\n\n", id="extra-blank-lines"),
    ],
)
def test_harmless_file_variants_parse_the_same(
    variant: Callable[[str], str], seeds_dir: Path
) -> None:
    path = seed_file("003", seeds_dir)
    text = path.read_text(encoding="utf-8")
    expected = parse_text(text, "x.txt")
    varied = parse_bytes(variant(text).encode("utf-8"), "x.txt")
    assert [p.bullets for p in varied.papers] == [p.bullets for p in expected.papers]
    assert [(p.title, p.votes, p.authors, p.video_url) for p in varied.papers] == [
        (p.title, p.votes, p.authors, p.video_url) for p in expected.papers
    ]


def test_a_utf8_bom_written_as_bytes_is_not_part_of_the_header(seeds_dir: Path) -> None:
    data = b"\xef\xbb\xbf" + seed_file("000", seeds_dir).read_bytes()
    assert parse_bytes(data, "x.txt").date == dt.date(2024, 5, 22)


# --- malformed digests ---------------------------------------------------------------------

UNEXPECTED_IN_PAPER = (
    'in a paper; expected a thumbnail "![](https://…)", "Vote: <number>", "Authors: …" '
    'or "- " bullet lines'
)
MALFORMED_CASES = {
    "no-header.txt": [(1, 'expected "## Daily Papers (YYYY-MM-DD)" before the first paper')],
    "header-without-parentheses.txt": [
        (1, 'expected "## Daily Papers (YYYY-MM-DD)", found "Daily Papers 2024-05-22"')
    ],
    "header-date-format.txt": [(1, 'the date "22.05.2024" is not written as YYYY-MM-DD')],
    "date-does-not-exist.txt": [(1, 'the date "2024-02-30" does not exist')],
    "no-papers.txt": [(1, 'no papers; expected "### [title](url)" headings')],
    "text-before-first-paper.txt": [
        (3, 'unexpected "Today\'s picks:" before the first paper heading')
    ],
    "heading-without-link.txt": [
        (3, 'a paper heading must be a link "### [title](https://…)", found "A paper"')
    ],
    "heading-empty-title.txt": [(3, "the paper heading has an empty title: [](…)")],
    "heading-link-not-web.txt": [
        (3, 'the paper link must be an http(s) URL, found "ftp://example.org/a.pdf"')
    ],
    "votes-plural.txt": [(7, 'expected "Vote: <number>", found "Votes: 12"')],
    "vote-negative.txt": [(7, 'the vote count must be a whole number 0 or more, found "-3"')],
    "missing-authors.txt": [(3, '"A paper" has no "Authors: …" line')],
    "authors-only-elision.txt": [(9, 'the "Authors:" line names nobody')],
    "no-bullets.txt": [(3, '"A paper" has no summary bullets ("- " lines)')],
    "empty-bullet.txt": [(12, 'an empty "- " bullet')],
    "nested-list.txt": [(12, 'a nested list; summary bullets are one level of "- " lines')],
    "raw-html.txt": [
        (
            5,
            "raw HTML is not allowed; only a video block "
            '<div><video controls src="https://…"></video></div> may follow a video link',
        )
    ],
    "thumbnail-not-web.txt": [(5, 'the thumbnail must be an http(s) URL, found "thumb.png"')],
    "reference-definition.txt": [
        (5, f'unexpected "[thumb]: https://example.org/a.png" {UNEXPECTED_IN_PAPER}')
    ],
    "empty.txt": [(1, "the file is empty; expected a digest")],
    "blank.txt": [(1, "the file is empty; expected a digest")],
    "not-utf8.txt": [(9, "the file is not UTF-8 text (byte 0xe9); save it as UTF-8")],
    "several-problems.txt": [
        (7, 'the vote count must be a whole number 0 or more, found "1.5"'),
        (14, '"Second" has no "Authors: …" line'),
        (23, 'a paper heading must be a link "### [title](https://…)", found "Third without link"'),
    ],
}


def test_every_malformed_fixture_has_an_expectation() -> None:
    assert sorted(path.name for path in MALFORMED.iterdir()) == sorted(MALFORMED_CASES)


@pytest.mark.parametrize("name", sorted(MALFORMED_CASES))
def test_malformed_digest_is_reported_at_its_line(name: str) -> None:
    path = MALFORMED / name
    with pytest.raises(DigestError) as raised:
        parse_file(path, display_path=f"bad/{name}")
    assert [(p.path, p.line, p.message) for p in raised.value.problems] == [
        (f"bad/{name}", line, message) for line, message in MALFORMED_CASES[name]
    ]
    first_line, first_message = MALFORMED_CASES[name][0]
    assert str(raised.value).splitlines()[0] == f"bad/{name}:{first_line}: {first_message}"


@pytest.mark.parametrize(
    ("stray", "found"),
    [
        ("> a quote", "> a quote"),
        ("```", "```"),
        ("---", "---"),
        ("    indented code", "indented code"),
        ("1. a numbered item", "a numbered item"),
    ],
)
def test_markdown_the_format_has_no_use_for_is_reported_at_its_line(stray: str, found: str) -> None:
    text = digest_text().replace("![](https://example.org/thumb.png)", stray)
    with pytest.raises(DigestError) as raised:
        parse_text(text, "x.txt")
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (5, f'unexpected "{found}" {UNEXPECTED_IN_PAPER}')
    ]


def test_an_underlined_vote_line_is_not_a_vote() -> None:
    text = digest_text().replace("Vote: 0\n", "Vote: 0\n===\n")
    with pytest.raises(DigestError) as raised:
        parse_text(text, "x.txt")
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (7, 'expected "Vote: <number>", found "Vote: 0 ==="')
    ]


def test_two_digests_with_the_same_date_are_a_problem(seeds_copy: Path) -> None:
    original = seed_file("000", seeds_copy)
    duplicate = seeds_copy / "005_duplicate.txt"
    duplicate.write_bytes(original.read_bytes())
    with pytest.raises(DigestError) as raised:
        parse_files([seeds_copy])
    assert raised.value.problems == (
        Problem(
            duplicate.as_posix(),
            1,
            f"the date 2024-05-22 is already used by {original.as_posix()}; one digest per day",
        ),
    )


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    for name in ("votes-plural.txt", "no-bullets.txt"):
        (tmp_path / name).write_bytes((MALFORMED / name).read_bytes())
    with pytest.raises(DigestError) as raised:
        parse_files([tmp_path])
    assert [(Path(p.path).name, p.line) for p in raised.value.problems] == [
        ("no-bullets.txt", 3),
        ("votes-plural.txt", 7),
    ]


def test_text_markdown_would_drop_entirely_is_an_empty_digest() -> None:
    with pytest.raises(DigestError) as raised:
        parse_text("[thumb]: https://example.org/a.png\n", "x.txt")
    assert raised.value.problems[0].line == 1


def test_an_absurdly_long_vote_count_is_a_problem_not_a_crash() -> None:
    text = digest_text().replace("Vote: 0", "Vote: " + "9" * 5000)
    with pytest.raises(DigestError, match="the vote count must be a whole number"):
        parse_text(text, "x.txt")


def test_a_date_in_non_ascii_digits_is_not_written_as_yyyy_mm_dd() -> None:
    with pytest.raises(DigestError, match="is not written as YYYY-MM-DD"):
        parse_text("## Daily Papers (٢٠٢٤-٠٥-٢٢)\n\n" + PAPER.format(title="t"), "x.txt")


def test_an_unreadable_path_is_a_problem_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(DigestError) as raised:
        parse_file(tmp_path / "missing.txt", display_path="missing.txt")
    assert str(raised.value) == "missing.txt: cannot read the file: No such file or directory"


# --- the parser fails only with DigestError ------------------------------------------------

# Run with PARSER_FUZZ_EXAMPLES=2000 to search harder; the committed default stays quick.
FUZZ = settings(
    max_examples=int(os.environ.get("PARSER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_SETTINGS = Settings()
SEED_TEXTS = [
    path.read_text(encoding="utf-8")
    for path in sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
]
MARKDOWN_CHARACTERS = "#[]()!<>-*_+`\\:|>&;\"' \t\n\r\ufeff\x00aV0123456789가"
# Characters an XML or MIME writer may refuse or a terminal may act on.
AWKWARD_CHARACTERS = "\x07\x1b\x0b\x7f\x85\u200f\u202e\u2066\ufdd0\ufffe\uffff\U0010ffff\U0001f600"
# Whole lines a maintainer might paste into a digest, each a different Markdown construct.
MARKDOWN_LINES = [
    "[thumb]: https://example.org/a.png",
    "  - a nested bullet",
    "-",
    "1. a numbered item",
    "Vote: " + "9" * 5000,
    "Authors: +",
    "---",
    "===",
    "```",
    "    indented code",
    "> a quote",
    "<div>",
    "<!-- a comment -->",
    "## Daily Papers (2024-02-30)",
    "### [](https://example.org)",
    "### [t](javascript:alert(1))",
    "![](<>)",
    "[Watch Video](https://example.org/v.mp4)",
]


def parses_or_explains(text: str) -> None:
    try:
        digest = parse_text(text, "fuzz.txt")
    except DigestError as error:
        assert error.problems
        assert all(problem.path == "fuzz.txt" and problem.line >= 1 for problem in error.problems)
    else:
        assert isinstance(digest, Digest)
        assert all(paper.title and paper.bullets and paper.authors for paper in digest.papers)
        renders_everywhere(digest)


def renders_everywhere(digest: Digest) -> None:
    """Whatever `check` accepts, `build` writes: the feeds, the email and the issue page."""
    files = {
        **feed_files([digest], FUZZ_SETTINGS, {}),
        **issue_email_files(digest, FUZZ_SETTINGS),
        **issue_page_files(digest, None, None, FUZZ_SETTINGS),
    }
    assert all(files.values())


@st.composite
def mutated_seeds(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SEED_TEXTS)).split("\n")
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        mutations = ["delete", "duplicate", "swap", "insert", "insert_line", "truncate"]
        match draw(st.sampled_from(mutations)):
            case "delete":
                del lines[index]
            case "duplicate":
                lines.insert(index, lines[index])
            case "swap":
                other = draw(st.integers(0, len(lines) - 1))
                lines[index], lines[other] = lines[other], lines[index]
            case "insert":
                line = lines[index]
                at = draw(st.integers(0, len(line)))
                alphabet = draw(st.sampled_from([MARKDOWN_CHARACTERS, AWKWARD_CHARACTERS]))
                extra = draw(st.text(alphabet, min_size=1, max_size=4))
                lines[index] = line[:at] + extra + line[at:]
            case "insert_line":
                lines.insert(index, draw(st.sampled_from(MARKDOWN_LINES)))
            case "truncate":
                lines = lines[: index + 1]
                lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


@FUZZ
@given(mutated_seeds())
def test_mutated_real_digests_parse_or_raise_digest_error(text: str) -> None:
    parses_or_explains(text)


@FUZZ
@given(st.text(MARKDOWN_CHARACTERS + AWKWARD_CHARACTERS) | st.text())
def test_arbitrary_text_parses_or_raises_digest_error(text: str) -> None:
    parses_or_explains(text)


@FUZZ
@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_digest_error(data: bytes) -> None:
    try:
        parse_bytes(data, "fuzz.txt")
    except DigestError as error:
        assert error.problems


# Lines at the edges of what parse._plain_blocks reads itself, and what it leaves alone.
BLOCK_LINES = [
    *MARKDOWN_LINES,
    *(line for text in SEED_TEXTS[:2] for line in text.split("\n")[:12]),
    *["", " ", "\t", "- a", "- b  c ", "-  x", "- - y", "- 1. z", "- 1.5배", "- #x", "- <b>"],
    *["1) a", "1.5", "* a", "+ a", "### C#", "### a ###", "##  x \t", "#### h", "# h", "#x"],
    *["##", "### ", "<div>", "<DIV>", "<div/>", "<p>x</p>", "\u3000x", "\x0c", "a\\", "x  "],
    *['<div><video controls src="https://a.org/v.mp4"></video></div>', "  - a", "\x00"],
    *["1.", "2)", "10. x", "<divx>", "<divx", "<div-x y"],
]


@FUZZ
@given(
    st.lists(st.sampled_from(BLOCK_LINES) | st.text(MARKDOWN_CHARACTERS, max_size=6), max_size=14)
)
def test_a_plainly_written_digest_reads_as_markdown_it_reads_it(lines: list[str]) -> None:
    text = "\n".join(lines).replace("\r", "\n")  # parse_text's line ends
    plain = parse._plain_blocks(text)
    assert plain is None or plain == list(
        parse._top_level_blocks(parse._block_parser().parse(text))
    )


def test_the_seeds_are_read_without_markdown_it() -> None:
    assert all(parse._plain_blocks(text) is not None for text in SEED_TEXTS)


def test_a_digest_read_back_from_json_is_the_same_digest(digests: list[Digest]) -> None:
    for digest in digests:
        data = json.loads(json.dumps(digest_as_dict(digest)))
        assert digest_from_dict(data) == digest


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("date",), "22 May"),
        (("source_path",), None),
        (("papers",), {}),
        (("papers", 0, "votes"), "55"),
        (("papers", 0, "votes"), True),
        (("papers", 0, "authors"), ["A", 1]),
        (("papers", 0, "arxiv_id"), 2405.1),
        (("papers", 0, "line"), None),
        (("papers", 0, "unknown"), 1),
    ],
)
def test_damaged_digest_data_is_refused(
    digests: list[Digest], path: tuple[str | int, ...], value: object
) -> None:
    data: Any = json.loads(json.dumps(digest_as_dict(digests[0])))
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValueError):
        digest_from_dict(data)


def test_an_outline_read_back_from_json_is_the_same_outline(digests: list[Digest]) -> None:
    for digest in digests:
        row = json.loads(json.dumps(outline_as_row(digest)))
        assert outline_from_row(row, digest.source_path) == digest.outline()
    damaged = json.loads(json.dumps(outline_as_row(digests[0])))
    damaged[1][0][5] = "55"  # votes as text
    with pytest.raises(ValueError):
        outline_from_row(damaged, digests[0].source_path)
