"""Public lessons (TLP:CLEAR): best practice the affected Member explicitly releases to
everyone.

A lesson asked for ``share=public`` is stored ``none`` (the Secretariat and the Member
only, TLP:RED) and a review of the exact wording the public will read (redacted) is opened.
It becomes ``public`` only when released: by a focal point of the affected Member, or by the
Secretariat when the Member's own focal point asked for it. Public lessons are read,
anonymised, in every room.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from wisbot import i18n
from wisbot.directory import Directory, Room
from wisbot.domain.audience import lesson_seen_by, room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.domain.tlp import Tlp
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, user
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify
from wisbot.services.render import exposure, lesson_spans, redactor_for
from wisbot.store.tables import ConsentReview, Incident, Lesson

SUBJECT = "public"
"""The ``ConsentReview.subject`` of a release to the public."""

POSTED_KINDS = ("secretariat", "member", "collaboration")
"""Where lessons are posted (GISCs read them in the collaboration room, or list them)."""


def request_release(session: Session, directory: Directory, inc: Incident, lesson: Lesson,
                    *, by_member: bool, now: datetime) -> ConsentReview:
    """Open the release review: the Member's room is shown the exact wording the public
    would read; the Secretariat too when the Member asked (it may then release it)."""
    iid = inc.id
    assert iid is not None and lesson.id is not None
    last = session.exec(select(func.max(ConsentReview.n)).where(
        ConsentReview.incident_id == iid)).one()
    review = ConsentReview(incident_id=iid, n=(last or 0) + 1, subject=SUBJECT,
                           lesson_id=lesson.id,
                           proposed=redactor_for(directory, inc.member)(lesson.text),
                           created_at=now)
    session.add(review)
    session.flush()

    def card() -> Reply:  # in the current language
        b = ReplyBuilder(_t("L-{id} – release to the public? (review #{n_text})",
                            id=lesson.id, n_text=review.n),
                         kind="review", tlp=Tlp.RED)
        b.ref = inc.number
        b.reveal(inc.number)
        b.line(_t("Lesson L-{id} of {number} was asked to be public: once released it is marked "
                  "TLP:CLEAR, may be passed on without limit and is read in every room, as:",
                  id=lesson.id, number=inc.number))
        b.line(user(review.proposed))
        b.line(_t("Until released it stays with the affected Member and the WMO Secretariat. "
                  "Release it: "), Span(text=f"lessons release L-{lesson.id}", style="code"),
               _t(" (or give your own wording: "),
               Span(text=f"incident anon-text {inc.number} {review.n} <text>", style="code"),
               ").")
        return b.build()

    rooms = list(directory.rooms_with_role(f"member:{inc.member}"))
    if by_member:
        rooms += directory.rooms_with_role("secretariat")
    rendered: dict[str, Reply] = {}

    def in_(language: str) -> Reply:  # each reader in their language, each rendered once
        if language not in rendered:
            with i18n.use(language):
                rendered[language] = card()
        return rendered[language]

    direct = [] if rooms else [(c.id, in_(person_language(session, directory, c.id)))
                               for c in directory.contacts_of_member(inc.member)]
    notify(session, kind="review", now=now, incident_id=iid,
           deliveries=[(room, in_(room_language(room))) for room in rooms], direct=direct)
    return review


def release(session: Session, directory: Directory, inc: Incident, lesson: Lesson,
            wording: str) -> list[tuple[Room, Reply]]:
    """The lesson becomes public with ``wording`` (already redacted): what every room
    posted lessons is sent, labelled TLP:CLEAR."""
    lesson.share = "public"
    lesson.anon_text = wording
    session.add(lesson)
    exp = exposure(inc)
    out: list[tuple[Room, Reply]] = []
    for room in directory.rooms:
        vis = lesson_seen_by(room.role, lesson.share, inc.member)
        if vis is Vis.NONE or not room.role.startswith(POSTED_KINDS):
            continue
        with i18n.use(room_language(room)):  # each room reads its own language
            b = ReplyBuilder(_t("Lesson learned (public)"), kind="lesson", tlp=Tlp.CLEAR)
            b.line(*lesson_spans(directory, lesson, inc, vis, room_sees(room.role, exp)))
            out.append((room, b.build()))
    return out
