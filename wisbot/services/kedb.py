"""The known-error database (KEDB, Annex 1 of the WMO text): known errors with their
symptom and workaround, shared with the lessons' levels and consent, linked to incidents
and lessons, searched in every script, and suggested to the reporter of an incident whose
words match a symptom.

Who reads a known error is the one predicate's (:func:`wisbot.domain.audience.
known_error_seen_by`); a refusal for a hidden one is the same as for a missing one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.domain.audience import KNOWN_ERROR_SHARES
from wisbot.domain.confidentiality import Vis
from wisbot.domain.numbers import whole_number
from wisbot.domain.tlp import Tlp, lesson_tlp, strictest
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService
from wisbot.services.lessons import _UNSPACED, contains_all, lesson_visibility
from wisbot.services.render import anonymous_label, exposure, redactor_for
from wisbot.store.engine import Store
from wisbot.store.kedb_tables import KnownError, KnownErrorLink
from wisbot.store.tables import Incident, Lesson

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TITLE = 200
MAX_TEXT = 2000
SUGGEST_MAX = 3
# Words too common in incident reports to say two texts are about the same thing.
_COMMON = frozenset("""a an and are as at be been by for from has have in into is it its of on
or our the their them they this to was were with after before not no all any some same
new one two via mail mails through""".split())


def parse_ref(ref: str) -> int:
    kid = whole_number(ref.strip().upper().removeprefix("K-"))
    if kid is None:
        raise NotFound(_t("{ref} is not a known error number: they look like K-3",
                          ref=repr(ref)))
    return kid


def _hidden(kid: int) -> str:
    return _t("no known error K-{n} that you may see here", n=kid)


@lru_cache(maxsize=20_000)
def symptom_terms(symptom: str) -> tuple[str, ...]:
    """The words of a symptom that say something: no short or common word; a run of
    Chinese, Japanese or Korean (written without spaces) gives its two-character pieces in turn."""
    terms: list[str] = []
    for word in _WORD.findall(symptom):
        if _UNSPACED.search(word):
            terms += [word[i:i + 2] for i in range(0, len(word), 2) if len(word[i:i + 2]) == 2]
        elif len(word) >= 4 and word.casefold() not in _COMMON:
            terms.append(word[:6])  # a stem of sorts: "operators" finds "operator"
    return tuple(dict.fromkeys(t.casefold() for t in terms))


class Text:
    """A report's or an update's words, taken apart once for every symptom compared."""

    def __init__(self, text: str) -> None:
        self.folded = text.casefold()
        words = _WORD.findall(self.folded)
        # Every beginning of 3 to 6 letters: a symptom's term (cut to six) matches a word
        # it begins, as :func:`contains_all` would, in one set lookup.
        self.starts = {w[:k] for w in words for k in range(3, min(len(w), 6) + 1)}

    def has(self, term: str) -> bool:
        if _UNSPACED.search(term):
            return term in self.folded
        return term in self.starts


def symptom_matches(symptom: str, text: str | Text) -> bool:
    """Whether ``text`` (a report, an update) reads like ``symptom``: every term of a
    symptom of one or two terms, else half of them and at least two."""
    t = text if isinstance(text, Text) else Text(text)
    terms = symptom_terms(symptom)
    if not terms:
        return False
    hits = sum(1 for term in terms if t.has(term))
    return hits == len(terms) if len(terms) <= 2 else hits >= max(2, len(terms) // 2)


def may_match(symptom: str, text: Text) -> bool:
    """A quick necessary condition on the symptom as stored: redaction only takes words
    out (they read ``[withheld]``), so a symptom none of whose terms is in the text does
    not match once redacted either. Saves redacting every anonymised symptom."""
    return any(text.has(t) for t in symptom_terms(symptom)) or text.has("withhe")


class KedbService:
    def __init__(self, store: Store, directory: Directory, clock: Clock,
                 incidents: IncidentService) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.incidents = incidents

    # ----- what a reader sees ---------------------------------------------------------
    def _words(self, ke: KnownError, vis: Vis) -> tuple[str, str, str]:
        """Title, symptom and workaround as ``vis`` may read them: anonymised readers get
        the Member's names, codes and people taken out."""
        if vis is Vis.NAMED:
            return ke.title, ke.symptom, ke.workaround
        redact = redactor_for(self.directory, ke.member)
        return redact(ke.title), redact(ke.symptom), redact(ke.workaround)

    def _who(self, ke: KnownError, vis: Vis) -> str:
        if vis is Vis.NAMED:
            return ke.member
        centres = self.directory.centres_of(ke.member)
        gisc = centres[0].principal_gisc if centres else None
        return anonymous_label(gisc) if gisc else _t("a WIS Member")

    def _line(self, ke: KnownError, vis: Vis) -> tuple[Span, ...]:
        title, _s, _w = self._words(ke, vis)
        return (Span(text=f"{lesson_tlp(ke.share, None).label} "), bold(f"K-{ke.id}"),
                Span(text=f" · {self._who(ke, vis)} · "), user(title))

    def _get(self, session: Session, caller: Caller, kid: int, *,
             lock: bool = False) -> tuple[KnownError, Vis]:
        q = select(KnownError).where(KnownError.id == kid)
        ke = session.exec(q.with_for_update() if lock else q).first()
        vis = Vis.NONE if ke is None else caller.sees_known_error(ke.share, ke.member)
        if ke is None or vis is Vis.NONE:
            raise NotFound(_hidden(kid))
        return ke, vis

    # ----- commands -------------------------------------------------------------------
    async def add(self, caller: Caller, title: str, symptom: str, workaround: str,
                  share: str | None, member: str | None) -> Reply:
        share = share or "none"
        if share not in KNOWN_ERROR_SHARES:
            raise UsageError(_t("share must be one of {choices}",
                                choices=", ".join(KNOWN_ERROR_SHARES)))
        title, symptom, workaround = title.strip(), symptom.strip(), workaround.strip()
        for name, value, most in (("title", title, MAX_TITLE), ("symptom", symptom, MAX_TEXT),
                                  ("workaround", workaround, MAX_TEXT)):
            if not value:
                raise UsageError(_t("the {what} is empty", what=name))
            if len(value) > most:
                raise UsageError(_t("the {what} has {n} characters; at most {most}",
                                    what=name, n=len(value), most=most))
        if member is None:
            if len(caller.contact.members) != 1:
                raise UsageError(_t("say which Member met this known error: member=<code>"))
            member = caller.contact.members[0]
        code = self.directory.member(member).code
        if not (caller.is_secretariat or caller.is_member_focal(code)):
            raise NotAllowed(_t("only the focal points of {member} or the WMO Secretariat "
                                "may record a known error of {member}", member=code))
        if share != "none" and not caller.is_member_focal(code):
            raise NotAllowed(_t("only the focal points of {member} may share its known "
                                "errors (share={share}): it needs their consent. Record it "
                                "share=none.", member=code, share=share))

        def work(session: Session) -> Reply:
            ke = KnownError(member=code, share=share, title=title, symptom=symptom,
                            workaround=workaround, text=f"{title}\n{symptom}\n{workaround}",
                            author=caller.contact.id, created_at=self.clock())
            session.add(ke)
            session.flush()
            b = ReplyBuilder(_t("Known error {ke} recorded ({share})", ke=f"K-{ke.id}",
                                share=share), tlp=lesson_tlp(share, None))
            readers = {"none": _t("the focal points of {member} and the WMO Secretariat",
                                  member=code),
                       "anonymous": _t("the whole group, without naming {member}",
                                       member=code),
                       "named": _t("the whole group, naming {member}", member=code)}[share]
            b.line(_t("Who may read it: {who}.", who=readers))
            b.line(_t("Link it: `kedb link K-{n} <incident|lesson>`", n=ke.id))
            return b.build(private=True)

        return await self.store.tx(work)

    async def show(self, caller: Caller, ref: str) -> Reply:
        kid = parse_ref(ref)

        def work(session: Session) -> Reply:
            ke, vis = self._get(session, caller, kid)
            title, symptom, workaround = self._words(ke, vis)
            b = ReplyBuilder(f"K-{ke.id} – {title}", tlp=lesson_tlp(ke.share, None))
            b.line(bold(_t("Met by: ")), Span(text=self._who(ke, vis)))
            b.line(bold(_t("Symptom: ")), user(symptom))
            b.line(bold(_t("Workaround: ")), user(workaround))
            if vis is Vis.NAMED:  # a link would join an anonymised item to its Member
                for label in self._links(session, caller, ke):
                    b.line(bold(_t("Linked: ")), Span(text=label))
            return b.build(private=True)

        return await self.store.tx(work)

    def _links(self, session: Session, caller: Caller, ke: KnownError) -> list[str]:
        out: list[str] = []
        rows = session.exec(select(KnownErrorLink).where(
            KnownErrorLink.known_error_id == ke.id).order_by(col(KnownErrorLink.id))).all()
        for link in rows:
            if link.incident_id is not None:
                inc = session.get(Incident, link.incident_id)
                if inc is not None and caller.sees(exposure(inc)) is Vis.NAMED:
                    out.append(inc.number)
            elif link.lesson_id is not None:
                lesson = session.get(Lesson, link.lesson_id)
                inc = session.get(Incident, lesson.incident_id) if lesson else None
                if lesson is not None and inc is not None and lesson_visibility(
                        self.directory, caller, lesson, inc) is Vis.NAMED:
                    out.append(f"L-{lesson.id}")
        return out

    async def list_known(self, caller: Caller) -> Reply:
        def work(session: Session) -> Reply:
            rows = session.exec(select(KnownError).order_by(col(KnownError.id))).all()
            return self._listing(caller, _t("Known errors"), [
                (ke, caller.sees_known_error(ke.share, ke.member)) for ke in rows],
                _t("None that you may see here."))

        return await self.store.tx(work)

    def _listing(self, caller: Caller, title: str, rows: Sequence[tuple[KnownError, Vis]],
                 empty: str) -> Reply:
        b = ReplyBuilder(title)
        labels: list[Tlp] = []
        for ke, vis in rows:
            if vis is Vis.NONE:
                continue
            b.line(*self._line(ke, vis))
            labels.append(lesson_tlp(ke.share, None))
        if not labels:
            b.line(empty)
        b.tlp = strictest(labels) if labels else None
        return b.build(private=True)

    async def search(self, caller: Caller, words: str) -> Reply:
        terms = _WORD.findall(unicodedata.normalize("NFC", words))  # one word, accents kept
        if not terms:
            raise UsageError(_t("give at least one word to search for"))

        def work(session: Session) -> Reply:
            found: list[tuple[KnownError, Vis]] = []
            for kid in self._candidate_ids(session, terms):
                ke = session.get(KnownError, kid)
                if ke is None:
                    continue
                vis = caller.sees_known_error(ke.share, ke.member)
                if vis is Vis.NONE:
                    continue
                # A match on a withheld name would tell who met it: the words the reader
                # sees must match by themselves.
                if vis is not Vis.NAMED and not contains_all("\n".join(self._words(ke, vis)),
                                                             terms):
                    continue
                found.append((ke, vis))
            return self._listing(caller, _t("Known errors matching {words}",
                                            words=repr(" ".join(terms))), found,
                                 _t("No known errors that you may see match."))

        return await self.store.tx(work)

    def _candidate_ids(self, session: Session, terms: Sequence[str]) -> list[int]:
        """Known errors holding every term (any case, any script), in id order: the
        trigram index finds candidates (FTS5 ``trigram`` on SQLite, ``pg_trgm`` on
        PostgreSQL; shorter terms need a scan) and one Python check decides, so both
        databases answer the same (the lessons' search, :mod:`wisbot.services.lessons`)."""
        long_terms = [t for t in terms if len(t) >= 3]
        if self.store.sqlite:
            if long_terms:
                match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
                rows = session.execute(sql(
                    "SELECT k.id, k.text FROM known_error_trgm JOIN known_error k ON k.id = "
                    "known_error_trgm.rowid WHERE known_error_trgm MATCH :q ORDER BY k.id "
                    "LIMIT 2000"), {"q": match}).all()
            else:
                rows = session.execute(sql(
                    "SELECT id, text FROM known_error ORDER BY id LIMIT 20000")).all()
        else:
            patterns = ["%" + t.replace("\\", "\\\\").replace("%", "\\%")
                        .replace("_", "\\_") + "%" for t in terms]
            rows = session.execute(sql(
                "SELECT id, text FROM known_error WHERE text ILIKE ALL(:p) ORDER BY id "
                "LIMIT 2000"), {"p": patterns}).all()
        return [int(i) for i, text in rows if contains_all(str(text), terms)][:200]

    async def link(self, caller: Caller, ref: str, target: str) -> Reply:
        kid = parse_ref(ref)

        def work(session: Session) -> Reply:
            ke, vis = self._get(session, caller, kid, lock=True)
            if vis is not Vis.NAMED or not (caller.is_secretariat
                                            or caller.is_member_focal(ke.member)):
                # Never the Member's name: an anonymised reader may be the one asking.
                raise NotAllowed(_t("only the focal points of the Member that met K-{n} or "
                                    "the WMO Secretariat may link it", n=kid))
            incident_id: int | None = None
            lesson_id: int | None = None
            if target.strip().upper().startswith("L-"):
                lid = whole_number(target.strip().upper().removeprefix("L-"))
                lesson = session.get(Lesson, lid) if lid is not None else None
                inc = session.get(Incident, lesson.incident_id) if lesson else None
                if lesson is None or inc is None or lesson_visibility(
                        self.directory, caller, lesson, inc) is not Vis.NAMED:
                    raise NotFound(_t("no lesson {ref} that you may see here",
                                      ref=target.strip()))
                lesson_id, shown = lesson.id, f"L-{lesson.id}"
            else:
                inc, _v = self.incidents._visible(session, caller, target, Vis.NAMED)
                incident_id, shown = inc.id, inc.number
            exists = session.exec(select(KnownErrorLink).where(
                KnownErrorLink.known_error_id == kid, KnownErrorLink.incident_id == incident_id,
                KnownErrorLink.lesson_id == lesson_id)).first()
            if exists is not None:
                raise InvalidState(_t("K-{n} is already linked to {target}", n=kid,
                                      target=shown))
            session.add(KnownErrorLink(known_error_id=kid, incident_id=incident_id,
                                       lesson_id=lesson_id, linked_by=caller.contact.id,
                                       linked_at=self.clock()))
            b = ReplyBuilder(_t("K-{n} linked to {target}", n=kid, target=shown),
                             tlp=lesson_tlp(ke.share, None))
            return b.build(private=True)

        return await self.store.tx(work)

    async def suggestions(self, caller: Caller, text: str) -> list[tuple[Span, ...]]:
        """Lines for the reporter of ``text``: the known errors whose symptom matches that
        the reporter may see here, at most :data:`SUGGEST_MAX`, newest first."""
        if not text.strip():
            return []

        said = Text(text)

        def work(session: Session) -> list[tuple[Span, ...]]:
            rows = session.execute(sql(
                "SELECT id, member, share, symptom FROM known_error ORDER BY id DESC "
                "LIMIT 5000")).all()
            lines: list[tuple[Span, ...]] = []
            views: dict[tuple[str, str], Vis] = {}
            for kid, member, share, raw in rows:
                vis = views.get((share, member))
                if vis is None:
                    vis = views[share, member] = caller.sees_known_error(share, member)
                if vis is Vis.NONE or not may_match(str(raw), said):
                    continue
                ke = session.get(KnownError, kid)
                if ke is None:
                    continue
                # Decided on the words the reporter reads (anonymised: redacted).
                _title, symptom, workaround = self._words(ke, vis)
                if not symptom_matches(symptom, said):
                    continue
                lines.append((*self._line(ke, vis), Span(text=" – "),
                              bold(_t("Workaround: ")), user(workaround)))
                if len(lines) == SUGGEST_MAX:
                    break
            return lines

        return await self.store.tx(work)
