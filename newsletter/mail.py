"""Email issue: HTML (Jinja2 + a CSS inliner), text part, and the complete MIME message.

Pure: the same digest and settings always give the same bytes (no clock, no random
boundary), so two builds of an issue are byte-identical and a content-keyed cache holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any, ClassVar

from newsletter.config import Settings
from newsletter.headers import folded_header
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
        folder + "issue.eml": message.as_bytes(),
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


def compose_message(envelope: Envelope, settings: Settings, html: str, text: str) -> EmailMessage:
    """The edition as one `multipart/alternative` message, plain text first (RFC 2046
    §5.1.4: the last part is the preferred one)."""
    message = EmailMessage(policy=default_policy)
    # Stored as written: the policy's own folding could lose spaces between encoded words.
    message.set_raw("Subject", folded_header("Subject", envelope.subject))
    message["From"] = settings.email_from
    message["To"] = "undisclosed-recipients:;"  # send.py gives each copy its own To
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id
    message["List-Id"] = list_id(settings)
    message["List-Archive"] = f"<{settings.url()}>"
    unsubscribe = list_unsubscribe(settings)
    if unsubscribe:
        message["List-Unsubscribe"] = unsubscribe
    if settings.unsubscribe_url:
        # RFC 8058 §3.1: one-click only with an HTTPS URI in List-Unsubscribe
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, charset="utf-8")
    # base64: smaller than quoted-printable for Korean text, and picking it saves the policy
    # from encoding the part both ways to compare.
    message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    for part in message.iter_parts():
        del part["MIME-Version"]  # add_alternative copies it into the part; it belongs on top
    # A fixed boundary from the content instead of a random one: two builds are identical.
    # "=_" occurs in neither base64 nor quoted-printable bodies (RFC 2045 §6.7, §6.8), so
    # the boundary cannot collide with an encoded part (RFC 2046 §5.1.1).
    body_hash = hashlib.sha256((text + "\0" + html).encode("utf-8")).hexdigest()[:32]
    message.set_boundary(f"=_issue_{body_hash}")
    return message


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
    return Address(addr_spec=settings.unsubscribe_mailto or settings.list_mailbox).addr_spec


def list_unsubscribe(settings: Settings) -> str:
    """RFC 2369 List-Unsubscribe: the HTTPS endpoint first, then the mailto alternative.
    `send` adds each recipient's own token to the mailto's subject."""
    targets = []
    if settings.unsubscribe_url:
        targets.append(f"<{settings.unsubscribe_url}>")
    targets.append(f"<mailto:{unsubscribe_mailbox(settings)}?subject=unsubscribe>")
    return ", ".join(targets)
