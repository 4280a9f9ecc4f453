"""Email issue: HTML (Jinja2 + a CSS inliner), text part, and the complete MIME message.

Pure: the same digest and settings always give the same bytes (no clock, no random
boundary), so two builds of an issue are byte-identical and a content-keyed cache holds.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from email import quoprimime
from email.headerregistry import Address
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any, ClassVar

from newsletter.config import Settings
from newsletter.headers import MAX_LINE, folded_header
from newsletter.model import Digest, Paper
from newsletter.plaintext import wrap_text
from newsletter.templating import author_line, environment, weekday

_RIGHT_TO_LEFT = {"ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"}
PREHEADER_PAPERS = 3
SUBJECT_PREFIX = "[Daily Papers]"
THUMBNAIL_WIDTH = 560
# Hugging Face's paper social thumbnails are 1200×648; other images have unknown sizes, so
# they get a width only and Outlook (which ignores CSS sizes) scales them proportionally.
_KNOWN_THUMBNAIL_RATIOS = {"https://cdn-thumbnails.huggingface.co/social-thumbnails/": 648 / 1200}


def issue_email_files(digest: Digest, settings: Settings) -> dict[str, bytes]:
    """`<date>/email.html`, `email.txt` and `issue.eml` for one digest, as the outbox holds
    them (never deployed: `newsletter send <date>` reads the `.eml`)."""
    context = email_context(digest, settings)
    envelope = Envelope(
        subject(digest), settings.published_time(digest.date), issue_message_id(digest, settings)
    )
    templates = ("email/email.html", "email/email.txt")
    return edition_email_files(f"{digest.slug}/", templates, context, envelope, settings)


@dataclass(frozen=True)
class Envelope:
    """The headers that tell one edition (a daily issue, a weekly edition) from another."""

    subject: str
    date: dt.datetime
    message_id: str


def edition_email_files(
    folder: str,
    templates: tuple[str, str],
    context: dict[str, Any],
    envelope: Envelope,
    settings: Settings,
) -> dict[str, bytes]:
    """`email.html` (CSS inlined), `email.txt` and `issue.eml` in `folder`, from an HTML and
    a text template and their context."""
    html_template, text_template = templates
    env = environment(settings)
    html = inline_css(
        env.get_template(html_template).render(context), settings.base_url, settings.css_inliner
    )
    text = wrap_text(env.get_template(text_template).render(context))
    message = compose_message(envelope, settings, html, text)
    return {
        folder + "email.html": html.encode("utf-8"),
        folder + "email.txt": text.encode("utf-8"),
        folder + "issue.eml": message,
    }


@dataclass(frozen=True)
class PaperCard:
    """What one paper's card shows, computed once for the HTML and the text part."""

    paper: Paper
    author_line: str
    thumbnail_height: int | None


def email_context(digest: Digest, settings: Settings) -> dict[str, Any]:
    return {
        "digest": digest,
        "settings": settings,
        "subject": subject(digest),
        "preheader": preheader(digest),
        "date_label": date_label(digest.date),
        "headline": date_label(digest.date),
        "masthead_meta": f"오늘의 논문 {len(digest.papers)}편 · 추천 합계 {digest.total_votes}",
        "edition_name": digest.slug,
        "cards": [paper_card(paper) for paper in digest.papers],
        "issue_url": settings.issue_url(digest.slug),
        "archive_url": settings.url(),
        "unsubscribe_url": settings.unsubscribe_url,
        "unsubscribe_mailto": unsubscribe_mailbox(settings),
        "thumbnail_width": THUMBNAIL_WIDTH,
        "text_direction": text_direction(settings.language),
    }


def text_direction(language: str) -> str:
    """ "rtl" for a language written right to left (its primary subtag), else "ltr"."""
    return "rtl" if language.split("-")[0].lower() in _RIGHT_TO_LEFT else "ltr"


def inline_css(html: str, base_url: str, inliner: str = "css-inline") -> str:
    """Move the `<style>` rules onto the elements. The one place that inlines: css-inline
    (Rust, fast) by default, premailer (the `css_inliner` setting) for those who need it.

    The `<style data-premailer="ignore" data-css-inline="keep">` block (media queries,
    dark mode) stays in the head with its `!important`; neither inliner touches the network.
    """
    if inliner == "css-inline":
        return _inline_with_css_inline(html, base_url)
    premailer = _memoized_premailer()(
        html,
        base_url=base_url,
        strip_important=False,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        remove_classes=False,
        align_floating_images=False,  # no floats here; it re-parses every <img> style uncached
        # The templates write absolute URLs (tested); premailer's urljoin over every href
        # and src was a third of its time and changed no byte.
        disable_link_rewrites=True,
        # Outlook sizes images by their width/height attributes only; premailer would
        # overwrite width="560" with the CSS "100%" and height with "auto".
        disable_basic_attributes=["width", "height"],
    )
    return str(premailer.transform(pretty_print=False)).rstrip("\n") + "\n"


@cache
def _memoized_premailer() -> Any:
    """Premailer, imported on first use (0.2 s that a build rendering no email skips), that
    turns each stylesheet into rules once per process, not once per issue: every issue
    shares the template's stylesheet, and this step was a quarter of the time."""
    from premailer import Premailer

    class MemoizedPremailer(Premailer):  # type: ignore[misc]
        _rules: ClassVar[dict[tuple[str, int], tuple[list[Any], list[Any]]]] = {}

        def _parse_style_rules(
            self, css_body: str, ruleset_index: int
        ) -> tuple[list[Any], list[Any]]:
            key = (css_body, ruleset_index)
            if key not in self._rules:
                self._rules[key] = super()._parse_style_rules(css_body, ruleset_index)
            rules, leftover = self._rules[key]
            return list(rules), list(leftover)

    return MemoizedPremailer


def _inline_with_css_inline(html: str, base_url: str) -> str:
    import css_inline  # here, not at the top: only a build that renders an email needs it

    inliner = css_inline.CSSInliner(
        keep_style_tags=False, base_url=base_url, load_remote_stylesheets=False
    )
    return str(inliner.inline(html)).rstrip("\n") + "\n"


def subject(digest: Digest) -> str:
    """`[Daily Papers] 2024-05-22 · <top paper> 외 5편`."""
    return f"{SUBJECT_PREFIX} {digest.headline}"


def preheader(digest: Digest) -> str:
    """The inbox preview line: how many papers, then the day's top titles."""
    titles = [paper.title for paper in digest.top_papers[:PREHEADER_PAPERS]]
    return " · ".join([f"오늘의 논문 {len(digest.papers)}편", *titles])


def date_label(date: dt.date) -> str:
    return f"{date.year}년 {date.month}월 {date.day}일 ({weekday(date)})"


def paper_card(paper: Paper) -> PaperCard:
    return PaperCard(paper, author_line(paper), thumbnail_height(paper.thumbnail_url))


def thumbnail_height(url: str | None) -> int | None:
    if url is None:
        return None
    for prefix, ratio in _KNOWN_THUMBNAIL_RATIOS.items():
        if url.startswith(prefix):
            return round(THUMBNAIL_WIDTH * ratio)
    return None


def compose_message(envelope: Envelope, settings: Settings, html: str, text: str) -> bytes:
    """The edition as one `multipart/alternative` message, plain text first (RFC 2046
    §5.1.4: the last part is the preferred one), byte for byte as `EmailMessage` writes it
    with the default policy made 7-bit (a test holds the two equal). Written out here: the
    policy's header parsing and generator took 5.6 ms of an issue's 10 ms of email; the
    headers that depend only on the settings still go through it, once per process."""
    # A fixed boundary from the content instead of a random one: two builds are identical.
    # "=_" occurs in neither base64 nor quoted-printable bodies (RFC 2045 §6.7, §6.8), so
    # the boundary cannot collide with an encoded part (RFC 2046 §5.1.1).
    body_hash = hashlib.sha256((text + "\0" + html).encode("utf-8")).hexdigest()[:32]
    boundary = f"=_issue_{body_hash}"
    sender_headers, list_headers = _settings_headers(settings)
    # The Subject as folded_header wrote it: the policy's own folding could lose spaces
    # between encoded words.
    subject_lines = folded_header("Subject", envelope.subject).split("\r\n")
    head = [
        "Subject: " + "\n".join(subject_lines) + "\n",
        sender_headers,
        f"Date: {format_datetime(envelope.date)}\n",  # RFC 5322 §3.3
        f"Message-ID: {envelope.message_id}\n",
        list_headers,
        "MIME-Version: 1.0\n",
        f'Content-Type: multipart/alternative;\n boundary="{boundary}"\n\n',
    ]
    # base64 for the HTML: smaller than quoted-printable for Korean text.
    parts = [_text_part("plain", text), _text_part("html", html, "base64")]
    body = "\n".join(f"--{boundary}\n{part}" for part in parts)
    return ("".join(head) + body + f"\n--{boundary}--\n").encode("ascii")


@cache
def _settings_headers(settings: Settings) -> tuple[str, str]:
    """From and To, and the List-* headers (RFC 2369, RFC 2919, RFC 8058), each encoded
    (RFC 2047: a non-ASCII display name) and folded by the policy."""
    sender = {"From": settings.email_from, "To": "undisclosed-recipients:;"}
    lists = {"List-Id": list_id(settings), "List-Archive": f"<{settings.url()}>"}
    unsubscribe = list_unsubscribe(settings)
    if unsubscribe:
        lists["List-Unsubscribe"] = unsubscribe
    if settings.unsubscribe_url:
        # RFC 8058 §3.1: one-click only with an HTTPS URI in List-Unsubscribe
        lists["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return _folded(sender), _folded(lists)


def _folded(headers: dict[str, str]) -> str:
    return "".join(
        default_policy.fold(*default_policy.header_store_parse(name, value))
        for name, value in headers.items()
    )


def _text_part(subtype: str, content: str, encoding: str | None = None) -> str:
    """One UTF-8 text part: its headers, a blank line and the encoded body, lines ending in
    LF; without `encoding`, the transfer encoding `EmailMessage.set_content` would pick for
    a 7-bit message (RFC 5322 §2.1: no transport has to support 8BITMIME)."""
    lines = content.encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    encoding = encoding or _transfer_encoding(lines)
    if encoding == "7bit":
        encoded = body.decode("ascii")
    elif encoding == "quoted-printable":
        encoded = quoprimime.body_encode(body.decode("latin-1"), MAX_LINE)
    else:
        encoded = _base64_lines(body)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        f"Content-Transfer-Encoding: {encoding}\n\n{encoded}"
    )


def _base64_lines(body: bytes) -> str:
    """`base64.encodebytes(body)`: lines of 76 characters (RFC 2045 §6.8), each 57 bytes of
    `body`, but encoded in one call instead of one per line (0.5 ms of an issue's email)."""
    encoded = binascii.b2a_base64(body, newline=False).decode("ascii")
    return "".join(encoded[at : at + 76] + "\n" for at in range(0, len(encoded), 76))


def _transfer_encoding(lines: list[bytes]) -> str:
    """7bit for short ASCII lines (RFC 2045 §2.7), else whichever of quoted-printable and
    base64 is shorter over the first ten lines (the standard library's rule)."""
    if max(map(len, lines), default=0) <= MAX_LINE and all(line.isascii() for line in lines):
        return "7bit"
    sniff = b"\n".join(lines[:10]) + b"\n"
    quoted = quoprimime.body_encode(sniff.decode("latin-1"), MAX_LINE)
    return "base64" if len(quoted) > len(binascii.b2a_base64(sniff)) else "quoted-printable"


def sender_domain(settings: Settings) -> str:
    return parseaddr(settings.email_from)[1].rpartition("@")[2].lower()


def issue_message_id(digest: Digest, settings: Settings) -> str:
    # RFC 5322 §3.6.4: unique and stable: one issue, one id, however often it is built
    return f"<issue-{digest.slug}@{sender_domain(settings)}>"


def list_id(settings: Settings) -> str:
    """RFC 2919: `phrase <label.namespace>`; the namespace is the sender's domain."""
    local = parseaddr(settings.email_from)[1].partition("@")[0].lower() or "newsletter"
    label = "".join(char if char.isalnum() or char == "-" else "-" for char in local)
    return f"{settings.title} <{label}.{sender_domain(settings)}>"


def unsubscribe_mailbox(settings: Settings) -> str:
    """Where an unsubscribe mail goes: `unsubscribe_mailto`, else the list's own address
    (`newsletter subscribers sync` acts on it)."""
    return _addr_spec(settings.unsubscribe_mailto or settings.list_mailbox)


@cache
def _addr_spec(address: str) -> str:
    """The address as RFC 5322 §3.4.1 writes it (quoted where needed); parsed once."""
    return Address(addr_spec=address).addr_spec


def list_unsubscribe(settings: Settings) -> str:
    """RFC 2369 List-Unsubscribe: the HTTPS endpoint first, then the mailto alternative.
    `send` adds each recipient's own token to the mailto's subject."""
    targets = []
    if settings.unsubscribe_url:
        targets.append(f"<{settings.unsubscribe_url}>")
    targets.append(f"<mailto:{unsubscribe_mailbox(settings)}?subject=unsubscribe>")
    return ", ".join(targets)
