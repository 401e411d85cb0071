"""A :class:`~wisbot.reply.Reply` as HTML: every span escaped exactly as the Matrix
adapter escapes it (``<b>``, ``<code>``, ``<i>``; a person's text and codes isolated in
``<bdi>`` in Arabic), so a page shows what the person would read in chat, nothing more.

The Matrix module imports nio; its two span rules are repeated here (short, and a test
compares the output with the adapter's on the same replies)."""

from __future__ import annotations

import html
import re

from markupsafe import Markup

from wisbot.i18n import RTL
from wisbot.reply import Reply, Span

_MENTION = re.compile(r"@(?=[\w.=\-/+]|\Z)")
WORD_JOINER = "\u2060"


def neutralise(text: str) -> str:
    """As in chat: ``@room`` and ``@user:server`` shown with a word joiner after the ``@``."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def span_html(span: Span, rtl: bool = False) -> str:
    text = neutralise(span.text) if span.style == "user" else span.text
    esc = html.escape(text, quote=True).replace("\n", "<br>")
    if span.style == "bold":
        return f"<b>{esc}</b>"
    if span.style == "code":
        return f"<bdi><code>{esc}</code></bdi>" if rtl else f"<code>{esc}</code>"
    if span.style == "italic":
        return f"<i>{esc}</i>"
    if span.style == "user" and rtl:
        return f"<bdi>{esc}</bdi>"
    return esc


def reply_html(reply: Reply, *, heading: str = "h2") -> Markup:
    """The reply as a section: its title a heading, card fields a definition list, each
    line a paragraph. Actions are chat commands: shown as code to type, never as forms."""
    rtl = reply.lang in RTL
    out: list[str] = [f'<section class="reply reply-{html.escape(reply.kind)}">']
    if reply.title:
        out.append(f"<{heading}>{html.escape(reply.title)}</{heading}>")
    if reply.fields:
        out.append("<dl>")
        for label, value in reply.fields:
            value = neutralise(value)
            shown = f"<bdi>{html.escape(value)}</bdi>" if rtl else html.escape(value)
            out.append(f"<dt>{html.escape(label)}</dt><dd>{shown}</dd>")
        out.append("</dl>")
    for line in reply.lines:
        out.append("<p>" + "".join(span_html(s, rtl) for s in line) + "</p>")
    for action in reply.actions:
        out.append(f"<p><i>{html.escape(action.label)}</i>: "
                   f"<code>{html.escape(action.command)}</code></p>")
    out.append("</section>")
    return Markup("\n".join(out))  # noqa: S704 every part above is escaped
