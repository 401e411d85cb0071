"""Writing notifications: one Notification, one outbox row per room, in the caller's
transaction. Also the hook through which paging learns that a response is needed."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlmodel import Session

from wisbot.directory import Room
from wisbot.reply import Reply
from wisbot.store.engine import Encoded
from wisbot.store.tables import Notification, OutboxRow


@dataclass
class Answering:
    """The command being answered, by the adapter that threads answers (Matrix): the
    cascade post to the room it was typed in is threaded under it and is the answer
    there, so that room does not read the incident twice."""

    room_key: str
    reply_to: str
    thread: str | None = None
    used: bool = False


ANSWERING: ContextVar[Answering | None] = ContextVar("wisbot_answering", default=None)


def notify(session: Session, *, kind: str, now: datetime, incident_id: int | None,
           deliveries: Sequence[tuple[Room, Reply]],
           direct: Sequence[tuple[str, Reply]] = ()) -> Notification:
    """Enqueue ``deliveries`` (room, reply) in order, and direct messages to contacts."""
    note = Notification(incident_id=incident_id, kind=kind, created_at=now)
    session.add(note)
    session.flush()
    dumped: dict[int, Encoded] = {}  # the same Reply object is serialised once
    answering = ANSWERING.get()
    if answering is not None:
        deliveries = [(room, _as_answer(reply, answering))
                      if room.key == answering.room_key and reply.kind == "incident"
                      else (room, reply) for room, reply in deliveries]

    def payload(reply: Reply) -> Encoded:
        if id(reply) not in dumped:
            dumped[id(reply)] = Encoded(reply.model_dump_json())
        return dumped[id(reply)]

    rows: list[dict[str, Any]] = [
        {"notification_id": note.id, "key": f"n{note.id}-{room.key}", "room_key": room.key,
         "platform": room.platform, "payload": payload(reply), "status": "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for room, reply in deliveries
    ]
    rows += [
        {"notification_id": note.id, "key": f"n{note.id}-@{contact_id}",
         "room_key": f"@{contact_id}", "platform": "", "payload": payload(reply),
         "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
        for contact_id, reply in direct
    ]
    if rows:
        session.execute(insert(OutboxRow), rows)
    return note


def _as_answer(reply: Reply, answering: Answering) -> Reply:
    answering.used = True
    return reply.model_copy(update={"reply_to": answering.reply_to,
                                    "thread": answering.thread})


@dataclass(frozen=True)
class ResponseRequest:
    """Something that needs a person to answer: a severe incident, a query, a handover.

    ``targets`` pairs each on-call role to page (``secretariat``, ``gisc:Tokyo``...) with
    the message that role may read.
    """

    kind: str
    ref: str
    at: datetime
    targets: tuple[tuple[str, Reply], ...] = field(default_factory=tuple)


class ResponseHook(Protocol):
    def __call__(self, session: Session, request: ResponseRequest) -> None: ...


def no_paging(session: Session, request: ResponseRequest) -> None:
    """Until paging is configured, a response request is only the notification itself."""
