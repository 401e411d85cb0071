"""Slack rendering: a neutral :class:`~wisbot.reply.Reply` as Block Kit plus a plain-text
fallback, with every piece of text escaped for mrkdwn.

Escaping (https://api.slack.com/reference/surfaces/formatting#escaping): ``&``, ``<`` and
``>`` become entities, so no ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U…>``,
``<#C…>`` or ``<https://…|label>`` can be formed from text a person typed. Bare
``@channel``, ``@here`` and ``@everyone`` get a word joiner after the ``@`` so Slack's
automatic mention parsing cannot pick them up, and every mrkdwn text object is sent with
``verbatim: true`` (no auto-linking of names). Only wisbot's own markup (``*bold*``,
```code```, ``_italic_``) reaches Slack as formatting.
"""

from __future__ import annotations

import re
from typing import Any

from wisbot import i18n
from wisbot.i18n import FSI, PDI, RTL
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, Span, neutral

SECTION_LIMIT = 3000
"""Slack's limit for a section's text."""
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
MAX_BLOCKS = 50
ACTION_PREFIX = "wisbot.action."
"""``action_id`` of wisbot's buttons: ``wisbot.action.0``, ``wisbot.action.1``…"""

_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone|group)\b)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
WORD_JOINER = "\u2060"


def neutralise(text: str) -> str:
    """Break ``@channel``/``@here``/``@everyone`` and drop control characters."""
    return _BROADCAST.sub("@" + WORD_JOINER, _CONTROL.sub("", text))


# mrkdwn has no escape for its markers: in a person's text they become look-alikes, so
# ``*Severity:*`` cannot be set in bold as the bot's own labels are. An underscore inside a
# word (``de_of_nc``) formats nothing in Slack and is kept.
_MARKERS = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_EDGE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def unformat(text: str) -> str:
    """A person's text with Slack's formatting markers (``*_~` ``) made inert."""
    return _EDGE_UNDERSCORE.sub("\uff3f", text.translate(_MARKERS))


def escape(text: str) -> str:
    """Text for a mrkdwn field: entities for ``& < >``, broadcasts broken."""
    return neutralise(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _wrap(text: str, mark: str) -> str:
    core = text.strip()
    if not core:
        return escape(text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()):]
    return f"{escape(lead)}{mark}{escape(core)}{mark}{escape(trail)}"


def span_mrkdwn(span: Span, rtl: bool = False) -> str:
    if rtl and span.style in ("user", "code"):
        # Arabic: a person's text and codes keep their own direction inside the line.
        return f"{FSI}{span_mrkdwn(span)}{PDI}"
    if span.style == "bold":
        return _wrap(span.text, "*")
    if span.style == "italic":
        return _wrap(span.text, "_")
    if span.style == "code":
        return _wrap(span.text.replace("`", "'"), "`")
    if span.style == "user":
        return escape(unformat(neutral(span.text)))
    return escape(span.text)  # escaped, mentions broken


def line_mrkdwn(line: tuple[Span, ...], rtl: bool = False) -> str:
    return "".join(span_mrkdwn(s, rtl) for s in line)


def _iso(text: str, rtl: bool) -> str:
    return f"{FSI}{text}{PDI}" if rtl else text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(neutralise(text), limit), "emoji": False}


def _sections(lines: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = _clip(line, SECTION_LIMIT)
        if chunk and size + len(line) + 1 > SECTION_LIMIT:
            out.append({"type": "section", "text": _mrkdwn("\n".join(chunk))})
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append({"type": "section", "text": _mrkdwn("\n".join(chunk))})
    return out


def attachment_note(reply: Reply, *, files_follow: bool) -> str:
    """What the message says of its files: uploaded in its thread (``files_follow``, the
    adapter's channel posts), or only named (a ``response_url`` answer cannot carry
    files)."""
    with i18n.use(reply.lang or i18n.current()):  # the message's language
        if files_follow:
            names = ", ".join(_t("{name} ({size} bytes)", name=i18n.iso(a.name),
                                 size=i18n.number(a.size)) for a in reply.attachments)
            return _t("Attached in this message's thread: {names}", names=names)
        return " ".join(a.label() for a in reply.attachments)


def render_blocks(reply: Reply, *, files_follow: bool = False) -> list[dict[str, Any]]:
    """Block Kit: header (title), a fields section (the incident card: number in the
    title, severity words, recommended action, status…), text sections, buttons, and a
    note of the attachments (``files_follow``: the adapter uploads them in the thread)."""
    blocks: list[dict[str, Any]] = []
    rtl = reply.lang in RTL
    if reply.title:
        blocks.append({"type": "header", "text": _plain(reply.title, HEADER_LIMIT)})
    if reply.fields:
        fields = [_mrkdwn(_clip(f"*{escape(label)}*\n{_iso(escape(value), rtl)}",
                                FIELD_LIMIT))
                  for label, value in reply.fields]
        for i in range(0, len(fields), 10):  # Slack: at most 10 fields per section
            blocks.append({"type": "section", "fields": fields[i:i + 10]})
    lines = [line_mrkdwn(line, rtl) for line in reply.lines]
    lines = [line if line.strip() else " " for line in lines]
    blocks.extend(_sections(lines))
    if reply.actions:
        buttons: list[dict[str, Any]] = []
        for i, action in enumerate(reply.actions[:25]):
            button: dict[str, Any] = {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}{i}",
                "text": _plain(action.label, BUTTON_LABEL_LIMIT),
                "value": action.command[:BUTTON_VALUE_LIMIT],
            }
            if i == 0:
                button["style"] = "primary"
            buttons.append(button)
        blocks.append({"type": "actions", "elements": buttons})
    if reply.attachments:
        blocks.append({"type": "context", "elements": [
            _mrkdwn(escape(attachment_note(reply, files_follow=files_follow)))]})
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1],
                  {"type": "context", "elements": [_mrkdwn(_shortened(reply))]}]
    return blocks


def _shortened(reply: Reply) -> str:
    with i18n.use(reply.lang or i18n.current()):
        return _t("(message shortened)")


def render_text(reply: Reply, *, files_follow: bool = False) -> str:
    """The ``text`` fallback (notifications, screen readers): mrkdwn, escaped alike."""
    out: list[str] = []
    rtl = reply.lang in RTL
    if reply.title:
        out.append(f"*{escape(reply.title)}*")
    for label, value in reply.fields:
        out.append(f"{escape(label)}: {_iso(escape(value), rtl)}")
    out.extend(line_mrkdwn(line, rtl) for line in reply.lines)
    for action in reply.actions:
        out.append(f"[{escape(action.label)}: `{escape(action.command)}`]")
    if reply.attachments:
        out.append(escape(attachment_note(reply, files_follow=files_follow)))
    return _clip("\n".join(out), 39_000)
