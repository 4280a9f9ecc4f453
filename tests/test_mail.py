"""The email issue as a reader's mail program sees it: MIME parts, headers, inlined HTML."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

import lxml.html
import pytest
from browser import chromium
from golden import assert_matches_golden

from newsletter import mail
from newsletter.build import build
from newsletter.config import Settings
from newsletter.headers import folded_header
from newsletter.model import Digest
from newsletter.plaintext import columns
from newsletter.send import built_issue_path

GMAIL_CLIP_BYTES = 102 * 1024
URL = re.compile(r"https?://[!-~]+?(?=[)\]]?(?:[\s,]|$)|[^!-~])")


@pytest.fixture(scope="module", params=["premailer", "css-inline"])
def email_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test settings with each CSS inliner: every email test holds for both."""
    return dataclasses.replace(settings, css_inliner=request.param)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, email_settings: Settings
) -> Path:
    """The outbox of a build: `<date>/email.html`, `email.txt`, `issue.eml`."""
    folder = tmp_path_factory.mktemp("built")
    outbox = folder / "outbox"
    build(seeds_dir, folder / "public", email_settings, outbox_dir=outbox, cache_dir=folder / "c")
    return outbox


def issue(built: Path, date: str) -> EmailMessage:
    message = message_from_bytes(built_issue_path(built, date).read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text_part, html_part = message.iter_parts()
    return str(text_part.get_content()), str(html_part.get_content())


def by_date(digests: list[Digest], date: str) -> Digest:
    return next(digest for digest in digests if digest.slug == date)


def test_build_writes_html_text_and_message_per_issue(built: Path, digests: list[Digest]) -> None:
    for digest in digests:
        folder = built / digest.slug
        assert {p.name for p in folder.iterdir()} >= {"email.html", "email.txt", "issue.eml"}


def test_issue_is_multipart_alternative_with_text_first_and_html_last(built: Path) -> None:
    message = issue(built, "2024-05-22")
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    text, html = parts(message)
    assert text == (built / "2024-05-22/email.txt").read_text("utf-8")
    assert html == (built / "2024-05-22/email.html").read_text("utf-8")


def test_korean_subject_is_encoded_and_decodes_back(built: Path) -> None:
    raw = (built / "2024-05-22/issue.eml").read_bytes()
    raw.decode("ascii")  # RFC 2047 / base64: the message itself is pure ASCII
    assert "=?utf-8?" in raw.split(b"\n\n", 1)[0].decode()
    assert (
        issue(built, "2024-05-22")["Subject"]
        == "[Daily Papers] 2024-05-22 · Your Transformer is Secretly Linear 외 5편"
    )


def test_every_subject_decodes_to_the_issue_title_with_every_space(
    built: Path, digests: list[Digest]
) -> None:
    # 2024-04-04's long English title before "외 7편" lost its space to Python's folding.
    for digest in digests:
        assert issue(built, digest.slug)["Subject"] == f"[Daily Papers] {digest.headline}"


def test_headers_identify_issue_list_and_one_click_unsubscribe(built: Path) -> None:
    message = issue(built, "2024-05-22")
    assert message["Message-ID"] == "<issue-2024-05-22@example.org>"
    assert message["Date"] == "Wed, 22 May 2024 21:00:00 +0900"  # 12:00 UTC
    assert message["From"] == "Daily Papers <newsletter@example.org>"
    assert message["To"] == "undisclosed-recipients:;"
    assert message["List-Id"] == "Daily Papers 뉴스레터 <newsletter.example.org>"
    assert message["List-Unsubscribe"] == (
        "<https://papers.example.org/unsubscribe>, "
        "<mailto:unsubscribe@example.org?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_unsubscribe_settings_the_list_address_takes_unsubscribe_mail(
    digests: list[Digest], settings: Settings
) -> None:
    bare = dataclasses.replace(settings, unsubscribe_url="", unsubscribe_mailto="")
    files = mail.issue_email_files(by_date(digests, "2024-05-22"), bare)
    message = message_from_bytes(files["2024-05-22/issue.eml"], policy=default_policy)
    mailto = "mailto:newsletter@example.org?subject=unsubscribe"  # `subscribers sync` reads it
    assert message["List-Unsubscribe"] == f"<{mailto}>"
    assert "List-Unsubscribe-Post" not in message
    assert f'href="{mailto}"' in files["2024-05-22/email.html"].decode()
    assert mailto in files["2024-05-22/email.txt"].decode()


def test_mailto_only_gives_no_one_click_header(digests: list[Digest], settings: Settings) -> None:
    mailto_only = dataclasses.replace(settings, unsubscribe_url="")
    files = mail.issue_email_files(by_date(digests, "2024-05-22"), mailto_only)
    message = message_from_bytes(files["2024-05-22/issue.eml"], policy=default_policy)
    assert message["List-Unsubscribe"] == "<mailto:unsubscribe@example.org?subject=unsubscribe>"
    assert "List-Unsubscribe-Post" not in message


def test_two_builds_in_different_folders_are_byte_identical(
    built: Path, tmp_path: Path, seeds_copy: Path, email_settings: Settings
) -> None:
    again = tmp_path / "elsewhere" / "outbox"
    build(
        seeds_copy, tmp_path / "public", email_settings, outbox_dir=again, cache_dir=tmp_path / "c"
    )
    for path in sorted(built.glob("*/*")):
        assert (again / path.relative_to(built)).read_bytes() == path.read_bytes(), path


def email_message(envelope: mail.Envelope, settings: Settings, html: str, text: str) -> bytes:
    """The issue as `EmailMessage` composes it: what `mail.compose_message` writes by hand.
    7-bit clean: a short-lined non-ASCII text part is encoded, never sent as 8bit."""
    message = EmailMessage(policy=default_policy.clone(cte_type="7bit"))
    message.set_raw("Subject", folded_header("Subject", envelope.subject))
    message["From"] = settings.email_from
    message["To"] = "undisclosed-recipients:;"
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id
    message["List-Id"] = mail.list_id(settings)
    message["List-Archive"] = f"<{settings.url()}>"
    message["List-Unsubscribe"] = mail.list_unsubscribe(settings)
    if settings.unsubscribe_url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    for part in message.iter_parts():
        del part["MIME-Version"]
    body_hash = hashlib.sha256((text + "\0" + html).encode("utf-8")).hexdigest()[:32]
    message.set_boundary(f"=_issue_{body_hash}")
    return message.as_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "오늘의 논문 6편\n" * 40,  # base64
        "Today's papers\n" * 40,  # 7bit
        "Today’s papers · 6\n" * 40,  # quoted-printable: a few non-ASCII characters
        "Today’s papers\n" * 5,  # quoted-printable, ten lines or fewer
        "short lines\n" + "x" * 79 + "\n",  # ASCII, but too long for 7bit
        "line ends\r\nof every kind\rand none at the end",
        "",
    ],
)
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"unsubscribe_url": "", "unsubscribe_mailto": ""},
        {"email_from": "김철수 뉴스레터 <news@example.org>", "title": '뉴스 "인용", 쉼표'},
        {"email_from": '"Daily Papers Digest of A Long Name, Inc." <x@research.example.org>'},
    ],
)
def test_message_is_byte_for_byte_what_email_message_composes(
    settings: Settings, text: str, changes: dict[str, str]
) -> None:
    settings = dataclasses.replace(settings, **changes)
    envelope = mail.Envelope(
        "[Daily Papers] 2024-05-22 · Your Transformer is Secretly Linear 외 5편",
        settings.published_time(dt.date(2024, 5, 22)),
        "<issue-2024-05-22@example.org>",
    )
    html = "<!DOCTYPE html>\n<p>오늘의 논문</p>\n" * 30
    expected = email_message(envelope, settings, html, text)
    assert mail.compose_message(envelope, settings, html, text) == expected
    assert not message_from_bytes(expected, policy=default_policy).defects


def test_base64_lines_are_those_of_the_standard_library() -> None:
    import base64

    # Every remainder of 57-byte lines and of 3-byte groups, and an empty body.
    for size in [*range(0, 200), 57 * 40, 57 * 40 + 1]:
        body = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
        body = body[:size]
        assert mail._base64_lines(body) == base64.encodebytes(body).decode("ascii")


def test_no_line_in_any_message_exceeds_998_characters(built: Path) -> None:
    for path in built.glob("*/issue.eml"):
        # RFC 5322 §2.1.1
        assert max(len(line) for line in path.read_bytes().splitlines()) <= 998, path


def test_every_issue_stays_under_gmail_clipping_size(built: Path, digests: list[Digest]) -> None:
    for digest in digests:
        size = (built / digest.slug / "email.html").stat().st_size
        assert size < GMAIL_CLIP_BYTES, f"{digest.slug}: {size} bytes"


def test_images_have_absolute_urls_alt_text_and_outlook_width(built: Path) -> None:
    for path in built.glob("*/email.html"):
        page = lxml.html.fromstring(path.read_bytes())
        images = page.xpath("//img")
        assert images, path
        for image in images:
            assert image.get("src").startswith("https://")
            assert image.get("alt")
            assert image.get("width") == "560"


def test_every_link_is_absolute(built: Path) -> None:
    for path in built.glob("*/email.html"):
        for href in lxml.html.fromstring(path.read_bytes()).xpath("//a/@href"):
            assert href.startswith(("https://", "http://", "mailto:")), (path, href)


def test_every_element_with_a_class_carries_its_style_inline(built: Path) -> None:
    page = lxml.html.fromstring((built / "2024-02-22/email.html").read_bytes())
    classed = page.xpath("//body//*[@class]")
    assert len(classed) > 100
    bare = [lxml.html.tostring(e)[:80] for e in classed if not (e.get("style") or "").strip()]
    assert bare == []


def test_only_media_queries_and_dark_mode_stay_in_head(built: Path) -> None:
    page = lxml.html.fromstring((built / "2024-05-22/email.html").read_bytes())
    styles = page.xpath("//style")
    assert len(styles) == 1  # the MSO <style> is inside a conditional comment
    css = styles[0].text_content()
    assert "@media (prefers-color-scheme: dark)" in css
    assert "@media screen and (max-width: 600px)" in css
    assert "[data-ogsc] .paper-link" in css
    assert "[data-ogsb] .card" in css
    assert "!important" in css  # premailer must not strip it
    outside_media = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)
    selectors = re.findall(r"([^{}]+)\{", outside_media)
    assert selectors
    for selector in selectors:
        # only Outlook.com's dark-mode hooks and client resets; layout rules are inline
        assert selector.strip().startswith(("[data-og", ":root", "a[x-apple")), selector


def test_dark_mode_and_outlook_hints_are_declared(built: Path) -> None:
    html = (built / "2024-05-22/email.html").read_text("utf-8")
    assert '<html lang="ko"' in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert "<o:PixelsPerInch>96</o:PixelsPerInch>" in html
    assert '<!--[if mso]><table role="presentation" width="640"' in html
    assert re.search(r"max-width: ?640px", html)


def test_content_is_one_article_in_the_issue_language_for_gmail(
    built: Path, digests: list[Digest], settings: Settings
) -> None:
    # Gmail drops <html lang>: screen readers learn the language from this wrapper.
    body = lxml.html.fromstring((built / "2024-05-22/email.html").read_bytes()).body
    (article,) = body.findall("div")
    assert dict(article.attrib) == {
        "role": "article",
        "aria-roledescription": "email",
        "lang": "ko",
        "dir": "ltr",
    }
    assert body.text_content().strip() == article.text_content().strip()
    hebrew = dataclasses.replace(settings, language="he")
    html = mail.issue_email_files(by_date(digests, "2024-05-22"), hebrew)
    assert 'lang="he" dir="rtl"' in html["2024-05-22/email.html"].decode()


def test_email_has_no_scripts_videos_or_external_stylesheets(built: Path) -> None:
    for path in built.glob("*/email.html"):
        page = lxml.html.fromstring(path.read_bytes())
        assert page.xpath("//script | //video | //link | //iframe | //form") == [], path


def test_video_entry_becomes_link_in_email(built: Path, digests: list[Digest]) -> None:
    paper = next(p for p in by_date(digests, "2024-02-22").papers if p.video_url)
    html = (built / "2024-02-22/email.html").read_text("utf-8")
    page = lxml.html.fromstring(html)
    links = page.xpath(f'//a[@href="{paper.video_url}"]')
    assert [link.text_content() for link in links] == ["▶ 영상 보기"]
    text = (built / "2024-02-22/email.txt").read_text("utf-8")
    assert f"▶ 영상 보기: {paper.video_url}" in " ".join(text.split())


def test_text_part_carries_every_paper_title_and_link(built: Path, digests: list[Digest]) -> None:
    for digest in digests:
        text, _ = parts(issue(built, digest.slug))
        for paper in digest.papers:
            assert paper.title in " ".join(text.split())  # a long title wraps
            assert paper.link in text
        assert digest.slug in text or str(digest.date.year) in text
        assert "https://papers.example.org/unsubscribe" in text


def test_text_part_wraps_at_78_columns_and_keeps_every_url_whole(
    built: Path, digests: list[Digest]
) -> None:
    for digest in digests:
        text, _ = parts(issue(built, digest.slug))
        lines = text.splitlines()
        too_wide = [line for line in lines if columns(line) > 78 and " " in line.strip()]
        assert too_wide == [], digest.slug  # only a lone unbreakable word (a URL) may be wider
        urls = {url for paper in digest.papers for url in URL.findall(" ".join(paper.bullets))}
        assert urls and {url for url in urls if not any(url in line for line in lines)} == set()
        bullet_lines = [line for line in lines if line.startswith(" - ")]
        assert len(bullet_lines) == sum(len(paper.bullets) for paper in digest.papers)


def test_html_links_every_paper_title_and_shows_votes(built: Path, digests: list[Digest]) -> None:
    digest = by_date(digests, "2024-04-16")
    page = lxml.html.fromstring((built / "2024-04-16/email.html").read_bytes())
    titles = [(a.text_content(), a.get("href")) for a in page.xpath("//h2/a")]
    assert titles == [(paper.title, paper.link) for paper in digest.papers]
    votes = [span.text_content() for span in page.xpath('//span[@class="votes"]')]
    assert votes == [f"▲ {paper.votes}" for paper in digest.papers]


def test_long_author_list_is_cut_with_count_of_the_rest(digests: list[Digest]) -> None:
    paper = next(p for p in by_date(digests, "2024-02-22").papers if len(p.authors) == 22)
    line = mail.author_line(paper)
    assert line.endswith(" 외 17명")
    assert line.startswith(", ".join(paper.authors[:5]))


def test_author_list_the_digest_cut_short_ends_with_etc(digests: list[Digest]) -> None:
    paper = dataclasses.replace(
        by_date(digests, "2024-05-22").papers[0], authors=("A", "B"), authors_truncated=True
    )
    assert mail.author_line(paper) == "A, B 등"


def test_preheader_lists_the_days_top_papers_hidden(built: Path, digests: list[Digest]) -> None:
    digest = by_date(digests, "2024-05-22")
    page = lxml.html.fromstring((built / "2024-05-22/email.html").read_bytes())
    (preheader,) = page.xpath('//div[@class="preheader"]')
    assert re.search(r"display: ?none", preheader.get("style"))
    assert preheader.text_content().startswith(
        "오늘의 논문 6편 · " + " · ".join(p.title for p in digest.top_papers[:3])
    )


def test_view_in_browser_and_unsubscribe_links(built: Path, settings: Settings) -> None:
    page = lxml.html.fromstring((built / "2024-05-22/email.html").read_bytes())
    hrefs = page.xpath("//a/@href")
    assert settings.issue_url("2024-05-22") in hrefs
    assert hrefs[-2:] == [
        "mailto:unsubscribe@example.org?subject=unsubscribe",  # send adds the reader's token
        "https://papers.example.org/unsubscribe",
    ]


def test_golden_text_and_decoded_html_of_one_issue(
    seeds_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    assert settings.css_inliner == "css-inline"  # the golden files record the default inliner
    build(seeds_dir, tmp_path / "public", settings, cache_dir=tmp_path / "cache")
    text, html = parts(issue(tmp_path / "outbox", "2024-05-22"))
    assert_matches_golden("email/2024-05-22.email.txt", text)
    assert_matches_golden("email/2024-05-22.email.html", html)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_email_fits_phone_and_desktop_widths_without_horizontal_scroll(
    built: Path, scheme: str
) -> None:
    screenshots = Path(__file__).resolve().parent.parent / "screenshots"
    screenshots.mkdir(exist_ok=True)
    html = (built / "2024-02-22/email.html").read_text("utf-8")
    with chromium() as browser:
        for width in (600, 375):
            page = browser.new_page(  # type: ignore[attr-defined]
                viewport={"width": width, "height": 900}, color_scheme=scheme
            )
            page.route("**/*", lambda route: route.abort())  # thumbnails stay offline
            page.set_content(html, wait_until="domcontentloaded")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{scheme} {width}px: scrollWidth {scroll_width}"
            page.screenshot(path=str(screenshots / f"email-{width}-{scheme}.png"), full_page=False)
            page.close()
