"""The neutral message every surface renders: spans of text with a style.

Adapters escape every span for their platform; ``user`` spans are text a person typed and
additionally have mentions neutralised.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Style = Literal["plain", "bold", "code", "user", "italic"]


class Span(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    style: Style = "plain"


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

    def label(self) -> str:
        return f"[attachment {self.name}, {self.size} bytes]"


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
    reply_to: str | None = None
    """The platform id of the message this answers (a command): the surface threads the
    answer under it. ``None`` for everything that answers nobody."""
    thread: str | None = None
    """The thread the answered message was in (its root's platform id), if any."""

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
            out.append(attachment.label())
        return "\n".join(out)


class ReplyBuilder:
    """Collects lines for a :class:`Reply`."""

    def __init__(self, title: str | None = None, *, kind: str = "info") -> None:
        self.title = title
        self.kind = kind
        self._lines: list[tuple[Span, ...]] = []
        self._fields: list[tuple[str, str]] = []
        self._actions: list[Action] = []
        self._attachments: list[Attachment] = []
        self.ref: str | None = None

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
            title=self.title,
            lines=tuple(self._lines),
            fields=tuple(self._fields),
            actions=tuple(self._actions),
            private=private,
            kind=self.kind,
            ref=self.ref,
            attachments=tuple(self._attachments),
        )


def user(text: str) -> Span:
    return Span(text=text, style="user")


def bold(text: str) -> Span:
    return Span(text=text, style="bold")


def code(text: str) -> Span:
    return Span(text=text, style="code")


def text_reply(text: str, *, kind: str = "info", private: bool = False) -> Reply:
    return Reply(lines=tuple((Span(text=t),) for t in text.split("\n")), kind=kind,
                 private=private)
