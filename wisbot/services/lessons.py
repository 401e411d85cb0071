"""Lessons learned: added after resolution, shared named, anonymised or not at all."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import snowballstemmer
from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Contact, Directory
from wisbot.domain.audience import LESSON_SHARES, lesson_cap, lesson_seen_by, room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.domain.numbers import whole_number
from wisbot.domain.tlp import Tlp, strictest
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder
from wisbot.services import public_lessons
from wisbot.services.consent import release, request_review
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService
from wisbot.services.languages import room_language
from wisbot.services.notify import notify
from wisbot.services.render import exposure, lesson_label, lesson_spans, redactor_for
from wisbot.store.engine import Store
from wisbot.store.tables import ConsentReview, Incident, Lesson

_WORD = re.compile(r"\w+", re.UNICODE)


# Scripts written without spaces between words: a term matches anywhere in them.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                       "\uf900-\ufaff\uff66-\uff9f]")


_STEMMER = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """``text`` as search compares it: any case, without accents or Arabic short vowels
    ("securite" finds "sécurité")."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare).casefold()


def contains_all(text: str, terms: Sequence[str]) -> bool:
    """Whether ``text`` holds every term, in any case and without accents: anywhere for
    Chinese, Japanese and Korean; at the start of a word for a term of three letters or
    more (a prefix: "phish", "المصادق"); as a whole word for a shorter one (a search for
    "DE" does not find "detected"); or, for an English word, as another form of it
    ("backups" finds "backup"). This one function decides on both databases."""
    folded = fold(text)
    stems: set[str] | None = None
    for term in terms:
        t = fold(term)
        if _UNSPACED.search(t):
            if t not in folded:
                return False
            continue
        tail = "" if len(t) >= 3 else r"(?!\w)"
        if re.search(rf"(?<!\w){re.escape(t)}{tail}", folded):
            continue
        if len(t) >= 3 and t.isascii() and t.isalpha():
            if stems is None:
                stems = set(_STEMMER.stemWords(re.findall(r"[a-z]+", folded)))
            if _STEMMER.stemWord(t) in stems:
                continue
        return False
    return True


def lesson_visibility(directory: Directory, caller: Caller, lesson: Lesson,
                      inc: Incident) -> Vis:
    """What ``caller`` may be shown here of ``lesson`` (the one predicate decides)."""
    return caller.sees_lesson(lesson.share, inc.member,
                              lesson_cap(author_of(directory, lesson), exposure(inc)))


def author_of(directory: Directory, lesson: Lesson) -> Contact | None:
    """The lesson's author in the directory (None once removed: then the cap holds)."""
    try:
        return directory.contact(lesson.author)
    except NotFound:
        return None


class LessonService:
    def __init__(self, store: Store, directory: Directory, clock: Clock,
                 incidents: IncidentService) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.incidents = incidents

    async def add(self, caller: Caller, number: str, share: str, text: str) -> Reply:
        if share not in LESSON_SHARES:
            raise UsageError(_t("share must be one of {lesson_shares}",
                                lesson_shares=', '.join(LESSON_SHARES)))
        public = share == "public"
        if public:  # kept for the Member and the Secretariat until the Member releases it
            share = "none"

        def work(session: Session) -> Reply:
            # Locked: two lessons at once take review numbers one after the other.
            inc, _ = self.incidents._visible(session, caller, number, Vis.NAMED, lock=True)
            if not (caller.is_secretariat or caller.is_member_focal(inc.member)):
                raise NotAllowed(_t("only the affected Member's focal points or the WMO "
                                    "Secretariat may record lessons for {number}",
                                    number=inc.number))
            if share == "named" and not caller.is_member_focal(inc.member):
                raise NotAllowed(_t("only the focal points of the affected Member ({member}) "
                                    "may share a lesson of {number} named: it names them, so "
                                    "it needs their consent. Record it share=anonymous or "
                                    "share=none.", member=inc.member, number=inc.number))
            if inc.status == "open":
                raise InvalidState(_t("{number} is still open: lessons are recorded after "
                                      "resolution (`incident resolve {number}`)",
                                      number=inc.number))
            now = self.clock()
            lesson = Lesson(incident_id=inc.id or 0, share=share, text=text,
                            author=caller.contact.id, created_at=now)
            session.add(lesson)
            session.flush()
            deliveries = []
            for room in self.directory.rooms:
                vis = lesson_seen_by(room.role, share, inc.member,
                                     lesson_cap(caller.contact, exposure(inc)))
                # The predicate says what a room may read; posting lessons only to the
                # Secretariat, Member and collaboration rooms (GISCs read them there, or
                # list them) is where they are told, not who may read them.
                if vis is Vis.NONE or room.role.startswith(("gisc:", "area:")):
                    continue
                with i18n.use(room_language(room)):
                    b = ReplyBuilder(_t("Lesson learned"), kind="lesson",
                                     tlp=lesson_label(self.directory, lesson, inc))
                    b.line(*lesson_spans(self.directory, lesson, inc, vis,
                                         room_sees(room.role, exposure(inc))))
                    deliveries.append((room, b.build()))
            notify(session, kind="lesson", now=now, incident_id=inc.id, deliveries=deliveries)
            if share == "anonymous":  # anonymised rooms read it once the Member reviewed it
                request_review(session, self.directory, inc, subject="lesson", text=text,
                               now=now, lesson_id=lesson.id)
            told = ", ".join(r.key for r, _ in deliveries)
            b = ReplyBuilder(_t("Lesson {lesson} recorded ({share})",
                                lesson=f"L-{lesson.id}", share=share),
                             tlp=lesson_label(self.directory, lesson, inc))
            b.line(_t("Told: {rooms}.", rooms=told))
            if public:
                review = public_lessons.request_release(
                    session, self.directory, inc, lesson,
                    by_member=caller.is_member_focal(inc.member), now=now)
                b.line(_t("Public (TLP:CLEAR) only once released with the affected Member's "
                          "consent: `lessons release L-{id}` (review #{n_text}).",
                          id=lesson.id, n_text=review.n))
            return b.build()

        return await self.store.tx(work)

    async def list(self, caller: Caller, number: str | None) -> Reply:
        def work(session: Session) -> Reply:
            q = select(Lesson, Incident).join(Incident, col(Incident.id) == Lesson.incident_id)
            if number is not None:
                inc, _ = self.incidents._visible(session, caller, number,
                                                 Vis.NAMED)
                q = q.where(Lesson.incident_id == inc.id)
            rows = session.exec(q.order_by(col(Lesson.id))).all()
            b = ReplyBuilder(_t("Lessons learned for {number}", number=number) if number
                             else _t("Lessons learned"))
            labels: list[Tlp] = []
            shown = 0
            for lesson, inc in rows:
                vis = lesson_visibility(self.directory, caller, lesson, inc)
                # Listing by incident shows only lessons visibly joined to it.
                if vis is Vis.NONE or (number is not None and vis is not Vis.NAMED):
                    continue
                b.line(*lesson_spans(self.directory, lesson, inc, vis,
                                     caller.sees(exposure(inc)), labelled=True))
                labels.append(lesson_label(self.directory, lesson, inc))
                shown += 1
            if not shown:
                b.line(_t("None that you may see here."))
            b.tlp = strictest(labels) if labels else None
            return b.build(private=True)

        return await self.store.tx(work)

    async def search(self, caller: Caller, words: str) -> Reply:
        terms = _WORD.findall(fold(words))  # a combining mark would split a word
        if not terms:
            raise UsageError(_t("give at least one word to search for"))

        def work(session: Session) -> Reply:
            if self.store.sqlite:
                match = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
                ids = session.execute(sql(
                    "SELECT rowid FROM lesson_fts WHERE lesson_fts MATCH :q "
                    "ORDER BY bm25(lesson_fts) LIMIT 200"), {"q": match}).scalars().all()
            else:
                ids = session.execute(sql(
                    "SELECT id FROM lesson WHERE to_tsvector('english', text) @@ "
                    "plainto_tsquery('english', :q) ORDER BY ts_rank(to_tsvector('english', "
                    "text), plainto_tsquery('english', :q)) DESC, id LIMIT 200"),
                    {"q": " ".join(terms)}).scalars().all()
            # The index ranks; one matcher decides, over every lesson, so both databases
            # give the same answer in every script (Chinese, Japanese and Arabic have no
            # spaces or attach articles; accents and word forms differ).
            hits = set(self._matching_ids(session, terms))
            ids = [i for i in ids if i in hits] + sorted(hits - set(ids), reverse=True)
            b = ReplyBuilder(_t("Lessons matching {words}", words=repr(" ".join(terms))))
            labels: list[Tlp] = []
            shown = 0
            for lid in ids:
                lesson = session.get(Lesson, lid)
                if lesson is None:
                    continue
                inc = session.get(Incident, lesson.incident_id)
                if inc is None:
                    continue
                vis = lesson_visibility(self.directory, caller, lesson, inc)
                if vis is Vis.NONE:
                    continue
                if vis is Vis.ANONYMOUS:
                    # A match on a withheld name would reveal who the lesson is about: the
                    # text the reader sees must match by itself, with the same matcher.
                    # Only the wording the Member reviewed is visible (none until then).
                    if lesson.anon_text is None:
                        continue
                    visible_text = redactor_for(self.directory, inc.member)(lesson.anon_text)
                    if not self._matches(session, visible_text, terms):
                        continue
                b.line(*lesson_spans(self.directory, lesson, inc, vis,
                                     caller.sees(exposure(inc)), labelled=True))
                labels.append(lesson_label(self.directory, lesson, inc))
                shown += 1
            if not shown:
                b.line(_t("No lessons that you may see match."))
            b.tlp = strictest(labels) if labels else None
            return b.build(private=True)

        return await self.store.tx(work)

    async def release(self, caller: Caller, ref: str) -> Reply:
        """Release a lesson asked for ``share=public``: it becomes TLP:CLEAR. A focal point
        of the affected Member may; the Secretariat only when the Member's own focal point
        asked for it (the Member's explicit wish)."""
        lid = whole_number(ref.strip().upper().removeprefix("L-"))
        if lid is None:
            raise NotFound(_t("{ref!r} is not a lesson number: they look like L-3", ref=ref))

        def work(session: Session) -> Reply:
            lesson = session.get(Lesson, lid)
            inc = session.get(Incident, lesson.incident_id) if lesson is not None else None
            review = session.exec(select(ConsentReview).where(
                ConsentReview.lesson_id == lid,
                ConsentReview.subject == public_lessons.SUBJECT)).first()
            if lesson is None or inc is None or review is None or \
                    lesson_visibility(self.directory, caller, lesson, inc) is not Vis.NAMED:
                raise NotFound(_t("no lesson L-{lid} waiting to be made public that you may "
                                  "see here", lid=lid))
            session.refresh(inc, with_for_update=True)  # one release at a time
            session.refresh(review)
            if review.status != "pending":
                raise InvalidState(_t("L-{lid} was already released to the public", lid=lid))
            author = author_of(self.directory, lesson)
            asked_by_member = author is not None and any(
                m.casefold() == inc.member.casefold() for m in author.members)
            if not (caller.is_member_focal(inc.member)
                    or (caller.is_secretariat and asked_by_member)):
                raise NotAllowed(
                    _t("only the focal points of the affected Member ({member}) may release "
                       "L-{lid} to the public (TLP:CLEAR); the WMO Secretariat may only when "
                       "the Member asked for it", member=inc.member, lid=lid))
            rooms = release(session, self.directory, inc, review, review.proposed,
                            caller.contact.id, self.clock(), replaced=False)
            b = ReplyBuilder(_t("L-{lid} released to the public", lid=lid), tlp=Tlp.CLEAR)
            b.line(_t("Told: ") + (", ".join(r.key for r in rooms) or _t("no room")) + ".")
            return b.build(private=True)

        return await self.store.tx(work)

    def _matching_ids(self, session: Session, terms: Sequence[str]) -> Sequence[int]:
        """The newest 200 lessons that :func:`contains_all` terms (of the last 20,000)."""
        rows = session.execute(sql(
            "SELECT id, text FROM lesson ORDER BY id DESC LIMIT 20000")).all()
        out: list[int] = []
        for i, text in rows:
            if contains_all(str(text), terms):
                out.append(int(i))
                if len(out) == 200:
                    break
        return out

    def _matches(self, session: Session, text: str, terms: Sequence[str]) -> bool:
        """Whether ``text`` alone matches the search (the same matcher as the search)."""
        return contains_all(text, terms)


__all__ = ["LESSON_SHARES", "LessonService", "exposure"]
