"""The neutral message every surface renders: spans of text with a style.

Adapters escape every span for their platform; ``user`` spans are text a person typed:
:func:`neutral` is applied to them when the span is made (and when a stored one is read),
so no renderer can show a person's words as a line of the bot's own; adapters additionally
neutralise mentions and their platform's formatting.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wisbot import i18n
from wisbot.domain.tlp import Tlp, labelled
from wisbot.i18n import _ as _t

Style = Literal["plain", "bold", "code", "user", "italic"]

LINE_BREAK_MARK = " ⏎ "
"""What a line break in a person's text becomes: visibly theirs, never a new line."""
_BREAKS = re.compile(r"(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])+")


def neutral(text: str) -> str:
    """A person's text made unable to pass for the bot's: line breaks become a visible
    mark, and invisible format characters (bidi overrides and isolates U+202A-202E and
    U+2066-2069, marks, zero-width characters, tags) and other control characters go."""
    text = _BREAKS.sub(LINE_BREAK_MARK, text)
    return "".join(
        " " if ch == "\t" else ch for ch in text
        if ch == "\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co")
    )


class Span(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    style: Style = "plain"

    @model_validator(mode="before")
    @classmethod
    def _neutral_user_text(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("style") == "user" \
                and isinstance(data.get("text"), str):
            return {**data, "text": neutral(data["text"])}
        return data


class Action(BaseModel):
    """A button or reaction that runs a command for whoever uses it, e.g. ``ack P-3``."""

    model_config = ConfigDict(frozen=True)
    label: str
    command: str


class Attachment(BaseModel):
    """A file sent with a message (the watch chart): ``data`` is base64 so a Reply stays
    JSON in the outbox. Surfaces that cannot upload show :meth:`label` instead."""

    model_config = ConfigDict(frozen=True)
    name: str
    mime: str
    data: str
    size: int

    @classmethod
    def from_bytes(cls, name: str, mime: str, raw: bytes) -> Attachment:
        return cls(name=name, mime=mime, data=base64.b64encode(raw).decode("ascii"),
                   size=len(raw))

    def content(self) -> bytes:
        return base64.b64decode(self.data)

    def label(self, lang: str | None = None) -> str:
        """``[attachment chart.png, 1,234 bytes]`` in ``lang`` (default: the current)."""
        with i18n.use(lang or i18n.current()):
            return _t("[attachment {name}, {size} bytes]", name=i18n.iso(self.name),
                      size=self.size)


class Reveal(BaseModel):
    """Something a reply shows that not every room may read: an incident (its number at
    least, ``named``: its Member too) or a matter of some roles only (a page, an on-call
    override). Where the command was typed, the reply is posted for the room only if the
    room may read every one (:mod:`wisbot.services.consent`); otherwise it is private."""

    model_config = ConfigDict(frozen=True)
    incident: str | None = None
    named: bool = True
    roles: tuple[str, ...] = ()
    """Without ``incident``: the room roles that may read it (the Secretariat always may)."""


class Reply(BaseModel):
    """A message: a title, lines of spans, optional card fields, actions and files."""

    model_config = ConfigDict(frozen=True)
    title: str | None = None
    lines: tuple[tuple[Span, ...], ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    actions: tuple[Action, ...] = ()
    private: bool = False
    """Only the caller should see it (Slack ephemeral); never set on cascades."""
    kind: str = "info"
    """``info``, ``error``, ``incident``, ``page``, ``alert``: lets a surface pick a style."""
    ref: str | None = Field(default=None)
    """The object the message is about (incident number, page id): reactions map to it."""
    attachments: tuple[Attachment, ...] = ()
    reveals: tuple[Reveal, ...] = ()
    """What the reply shows that a room might not be allowed to read (the one reply rule)."""
    reply_to: str | None = None
    """The platform id of the message this answers (a command): the surface threads the
    answer under it. ``None`` for everything that answers nobody."""
    thread: str | None = None
    """The thread the answered message was in (its root's platform id), if any."""
    tlp: str | None = None
    """The TLP 2.0 label of a message about an incident or lesson (``TLP:AMBER``); the
    title starts with it, so every surface shows it first."""

    def with_tlp(self, tlp: Tlp) -> Reply:
        """The same message labelled ``tlp`` (first in its title)."""
        return self.model_copy(update={"tlp": tlp.label, "title": labelled(self.title, tlp)})
    lang: str | None = None
    """The language it was rendered in (``ar`` … ``zh``): surfaces set the direction
    (Arabic right to left) and isolate user text and codes from it."""

    def plain(self) -> str:
        """The text as a terminal or a plain-text body shows it."""
        out: list[str] = []
        if self.title:
            out.append(self.title)
        for label, value in self.fields:
            out.append(f"{label}: {value}")
        for line in self.lines:
            out.append("".join(span.text for span in line))
        for action in self.actions:
            out.append(f"[{action.label}: {action.command}]")
        for attachment in self.attachments:
            out.append(attachment.label(self.lang))
        return "\n".join(out)


class ReplyBuilder:
    """Collects lines for a :class:`Reply`."""

    def __init__(self, title: str | None = None, *, kind: str = "info",
                 tlp: Tlp | None = None) -> None:
        self.title = title
        self.tlp = tlp
        self.kind = kind
        self._lines: list[tuple[Span, ...]] = []
        self._fields: list[tuple[str, str]] = []
        self._actions: list[Action] = []
        self._attachments: list[Attachment] = []
        self._reveals: list[Reveal] = []
        self.ref: str | None = None
        self.lang: str | None = None

    def reveal(self, incident: str | None = None, *, named: bool = True,
               roles: tuple[str, ...] = ()) -> ReplyBuilder:
        """Declare what the reply shows (the one reply rule decides where it is posted)."""
        self._reveals.append(Reveal(incident=incident, named=named, roles=roles))
        return self

    def line(self, *parts: str | Span) -> ReplyBuilder:
        self._lines.append(tuple(p if isinstance(p, Span) else Span(text=p) for p in parts))
        return self

    def field(self, label: str, value: str) -> ReplyBuilder:
        self._fields.append((label, value))
        return self

    def action(self, label: str, command: str) -> ReplyBuilder:
        self._actions.append(Action(label=label, command=command))
        return self

    def attach(self, attachment: Attachment) -> ReplyBuilder:
        self._attachments.append(attachment)
        return self

    def build(self, *, private: bool = False) -> Reply:
        return Reply(
            title=labelled(self.title, self.tlp) if self.tlp is not None else self.title,
            tlp=self.tlp.label if self.tlp is not None else None,
            lines=tuple(self._lines),
            fields=tuple(self._fields),
            actions=tuple(self._actions),
            private=private,
            kind=self.kind,
            ref=self.ref,
            attachments=tuple(self._attachments),
            reveals=tuple(self._reveals),
            lang=self.lang or i18n.current(),
        )


def user(text: str) -> Span:
    return Span(text=text, style="user")


def bold(text: str) -> Span:
    return Span(text=text, style="bold")


def code(text: str) -> Span:
    return Span(text=text, style="code")


def text_reply(text: str, *, kind: str = "info", private: bool = False) -> Reply:
    return Reply(lines=tuple((Span(text=t),) for t in text.split("\n")), kind=kind,
                 private=private, lang=i18n.current())
