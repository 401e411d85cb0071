"""What each audience reads. Every function takes the visibility decided for that audience;
``Vis.ANONYMOUS`` output never names the Member, its centres or its people."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

from wisbot import i18n
from wisbot.directory import Contact, Directory
from wisbot.domain.audience import lesson_cap
from wisbot.domain.confidentiality import Exposure, Redactor, Share, Vis
from wisbot.domain.paging import format_duration
from wisbot.domain.rsit import words as rsit_words
from wisbot.domain.severity import severity
from wisbot.domain.tlp import Tlp, lesson_tlp, view_tlp
from wisbot.errors import NotFound
from wisbot.i18n import N_, _
from wisbot.reply import Reply, ReplyBuilder, Span, bold, code, user
from wisbot.services.limits import clip
from wisbot.store.tables import Incident, Lesson, TimelineEntry


def exposure(inc: Incident) -> Exposure:
    return Exposure(member=inc.member, principal_gisc=inc.principal_gisc,
                    share=Share.parse(inc.share), anonymous=inc.anonymous)


def incident_tlp(inc: Incident, vis: Vis = Vis.NAMED) -> Tlp:
    """The TLP 2.0 label of what a reader with ``vis`` is told about ``inc`` (never CLEAR:
    see docs/tlp.md). Named by default: the strictest view when the reader's is unknown."""
    return view_tlp(Share.parse(inc.share), inc.anonymous, vis)


def lesson_label(directory: Directory, lesson: Lesson, inc: Incident) -> Tlp:
    """A lesson's label: CLEAR once released public; else the strictest of its own reach
    and, when its incident's sharing caps it (not recorded by the Member), the incident's."""
    try:
        author: Contact | None = directory.contact(lesson.author)
    except NotFound:
        author = None
    capped = lesson_cap(author, exposure(inc)) is not None
    # The cap is the incident's sharing (its widest audience), whoever reads it named.
    return lesson_tlp(lesson.share, incident_tlp(inc, Vis.ANONYMOUS) if capped else None)


_BRACKETS = re.compile(r"\s*\([^)]*\)")


class _RememberingRedactor(Redactor):
    """A cascade redacts the same text once per room (193 Member rooms): the result is
    kept for the last few texts."""

    KEEP = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._done: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = self._done.get(text)
        if found is None:
            if len(self._done) >= self.KEEP:
                self._done.clear()
            found = self._done[text] = super().__call__(text)
        return found


def member_terms(directory: Directory, member: str) -> list[str]:
    """What names ``member`` itself: its code, name and aliases (acronyms, native names,
    cities), its centres' codes, names and ``identifiers`` (GTS CCCC, WIS2 centre-ids,
    namespaces)."""
    terms: list[str] = [member]
    with contextlib.suppress(NotFound):  # a Member dropped from the directory keeps its code
        found = directory.member(member)
        terms.append(found.name)
        terms.extend(found.aliases)
    for centre in directory.centres_of(member):
        terms.extend([centre.code, centre.name, *centre.identifiers])
        # "Roshydromet (GISC Moscow)": the organisation is known by the part before the
        # brackets alone.
        terms.append(_BRACKETS.sub("", centre.name))
    return terms


def people_terms(directory: Directory) -> list[str]:
    """The people of every Member (names, surnames, ids, chat ids, e-mails and their
    domains, phone numbers): anonymised text names none of them, since a person who moved,
    or who worked with the Member, still points at it."""
    terms: list[str] = []
    for contact in directory.contacts:
        if not contact.members:
            continue
        terms.extend([contact.id, contact.name])
        words = contact.name.split()
        if 2 <= len(words) <= 3 and all(w[:1].isupper() for w in words):
            terms.append(words[-1])  # a person is named by their surname alone too
        if contact.email:
            local, _, domain = contact.email.partition("@")
            # it@meteoswiss.example.org: the organisation's mail domain names it.
            terms.extend([contact.email, local, domain.split(".")[0]])
        if contact.phone:
            terms.append(contact.phone)
        for platform in ("matrix", "slack"):
            address = contact.chat_id(platform)
            if address:
                terms.append(address)
    return terms


def identifying_terms(directory: Directory, member: str) -> list[str]:
    """Everything the directory knows that an anonymised text about ``member`` withholds."""
    return member_terms(directory, member) + people_terms(directory)


_PEOPLE = "\x00people"


def redactor_for(directory: Directory, member: str) -> Redactor:
    """The Member's Redactor, built once per loaded directory (a reload builds anew); the
    people of every Member are one shared Redactor, built once."""
    cache = directory.redactors
    people = cache.get(_PEOPLE)
    if people is None:
        people = cache[_PEOPLE] = Redactor(people_terms(directory))
    key = member.casefold()
    found = cache.get(key)
    if found is None:
        found = cache[key] = _RememberingRedactor(member_terms(directory, member),
                                                  shared=people)
    return found


def anonymous_label(principal_gisc: str) -> str:
    """"a WIS centre in the area of GISC X" in the reader's language."""
    return _("a WIS centre in the area of GISC {gisc}", gisc=i18n.iso(principal_gisc))


def centre_label(directory: Directory, inc: Incident, vis: Vis) -> str:
    if vis is Vis.ANONYMOUS:
        return anonymous_label(inc.principal_gisc)
    try:
        centre = directory.centre(inc.centre)
        member = directory.member(inc.member)
        return i18n.iso(f"{centre.name} ({centre.code}, {member.name})")
    except NotFound:  # entries removed from the directory keep their codes
        return i18n.iso(f"{inc.centre} ({inc.member})")


def actor_label(directory: Directory, actor: str, inc: Incident | None, vis: Vis) -> str:
    try:
        contact = directory.contact(actor)
    except NotFound:
        return "wisbot" if actor == "wisbot" else _("a former contact")
    if vis is Vis.ANONYMOUS and inc is not None:
        if any(m.casefold() == inc.member.casefold() for m in contact.members):
            return _("the affected Member")
        if contact.is_secretariat:
            return _("WMO Secretariat")
        if contact.giscs:
            return _("GISC {gisc} focal point", gisc=i18n.iso(contact.giscs[0]))
        return _("a focal point")
    return i18n.iso(contact.name)


UNREVIEWED = N_("(not shown in anonymised rooms until the affected Member confirms the "
                 "wording)")
"""What anonymised rooms read instead of a Member's free text nobody reviewed (translated
when shown: ``str(UNREVIEWED)``)."""
FREE_TEXT_KINDS = frozenset({"reported", "update", "resolved", "reopened", "closed",
                             "severity", "escalated", "ioc"})
"""Timeline entries whose text a person wrote (the rest is wisbot's own wording); ``ioc``
is an indicator, the affected Member's information like an update."""


def text_for(directory: Directory, inc: Incident, vis: Vis, text: str,
             reviewed: str | None = None) -> str:
    """Free text as ``vis`` reads it. Anonymised readers get only the wording the affected
    Member reviewed (``reviewed``; the Redactor still runs over it), never the raw text."""
    if vis is not Vis.ANONYMOUS:
        return text
    if reviewed is None:
        return str(UNREVIEWED)
    return redactor_for(directory, inc.member)(reviewed)


def anon_of(entry: TimelineEntry) -> str | None:
    """The reviewed anonymised wording of a timeline entry, if any."""
    value = (entry.data or {}).get("anon")
    return value if isinstance(value, str) else None


def share_words(inc: Incident) -> str:
    """Share levels and ``anonymous`` are command words: the same in every language."""
    return f"{inc.share}{', anonymous' if inc.anonymous else ''}"


STATUS = {"open": N_("open"), "resolved": N_("resolved"), "closed": N_("closed")}
KINDS = {"reported": N_("reported"), "update": N_("update"), "resolved": N_("resolved"),
         "reopened": N_("reopened"), "closed": N_("closed"), "severity": N_("severity"),
         "share": N_("share"), "escalated": N_("escalated"), "acknowledged": N_("acknowledged"),
         "confirmed": N_("confirmed"), "replaced": N_("replaced"), "lesson": N_("lesson"),
         "summary": N_("summary"), "model": N_("model"), "checked": N_("checked"),
         "classified": N_("classified"), "ioc": N_("indicator"),
         "ack": N_("page acknowledged"), "target-missed": N_("1-hour target missed"),
         "page-skipped": N_("on-call contact skipped")}
"""Timeline kinds and statuses as words (the command words stay as they are)."""
HEADLINES = {str.__str__(h): h for h in (
    N_("new incident reported"), N_("update"), N_("resolved"), N_("reopened"), N_("closed"),
    N_("details"), N_("needs your response"), N_("reported"), N_("updated"),
    N_("sharing changed"), N_("severity changed"), N_("classified"),
    N_("escalated: needs your response"),
    N_("summary released by the affected Member"))}
_SEVERITY_HEADLINE = re.compile(r"^severity (\d) → (\d)$")
_SHARED_HEADLINE = re.compile(r"^now shared as (.+)$")
_RELEASED_HEADLINE = re.compile(r"^(\w+) released by the affected Member$")
_CLASSIFIED_HEADLINE = re.compile(r"^classified (.+)$")  # RSIT names stay English
_INDICATOR_HEADLINE = re.compile(r"^indicator (I-\d+) added$")


def word(kind: str) -> str:
    """A status or timeline kind in the reader's language (unknown ones as they are)."""
    found = STATUS.get(kind) or KINDS.get(kind)
    return str(found) if found is not None else kind


def headline_words(headline: str) -> str:
    """A card's headline in the reader's language: the services pass English."""
    if headline in HEADLINES:
        return str(HEADLINES[headline])
    if m := _SEVERITY_HEADLINE.match(headline):
        old, new = m.groups()
        return _("severity {old} → {new}", old=old, new=new)
    if m := _SHARED_HEADLINE.match(headline):
        share = i18n.iso(m[1])
        return _("now shared as {share}", share=share)
    if m := _RELEASED_HEADLINE.match(headline):
        kind = word(m[1])
        return _("{kind} released by the affected Member", kind=kind)
    if m := _CLASSIFIED_HEADLINE.match(headline):
        return _("classified {classification}", classification=i18n.iso(m[1]))
    if m := _INDICATOR_HEADLINE.match(headline):
        return _("indicator {ref} added", ref=i18n.iso(m[1]))
    return headline


def incident_reply(directory: Directory, inc: Incident, vis: Vis, headline: str,
                   *, note: str | None = None, note_by: str | None = None,
                   note_reviewed: str | None = None, extra: Sequence[str] = (),
                   full: bool = False) -> Reply:
    """The incident card for ``vis``. Anonymised, the summary and ``note`` are the wording
    the affected Member reviewed (``inc.anon_summary``, ``note_reviewed``), or a notice.
    Unless ``full`` (``incident show``), long free text is cut and points to the whole."""
    def cut(text: str) -> str:
        return text if full else clip(text, inc.number)

    sev = severity(inc.severity)
    b = ReplyBuilder(f"{i18n.iso(inc.number)} – {headline_words(headline)}", kind="incident",
                     tlp=incident_tlp(inc, vis))
    b.ref = inc.number
    b.lang = i18n.current()
    # Checked again when the message leaves: consent may have narrowed since.
    b.reveal(inc.number, named=vis is Vis.NAMED)
    b.field(_("Centre"), centre_label(directory, inc, vis))
    b.field(_("Severity"), sev.words)
    b.field(_("Classification (RSIT)"),
            rsit_words(inc.rsit) if inc.rsit else _("not classified"))
    b.field(_("Recommended action"), sev.advice)
    b.field(_("Status"), word(inc.status))
    b.field(_("Shared"), i18n.iso(share_words(inc)))
    b.line(bold(_("Summary: ")), _free(cut(text_for(directory, inc, vis, inc.summary,
                                                    inc.anon_summary))))
    if note:
        label = _("Note ({who}): ", who=actor_label(directory, note_by, inc, vis)) \
            if note_by else _("Note: ")
        b.line(bold(label), _free(cut(text_for(directory, inc, vis, note, note_reviewed))))
    for line in extra:
        b.line(line)
    return b.build()


def timeline_lines(directory: Directory, inc: Incident, vis: Vis,
                   entries: Sequence[TimelineEntry]) -> list[tuple[Span, ...]]:
    out: list[tuple[Span, ...]] = []
    for e in entries:
        when = i18n.when(e.at)
        who = actor_label(directory, e.actor, inc, vis)
        spans: list[Span] = [Span(text=f"{when} · {who} · {word(e.kind)}")]
        own = entry_spans(directory, inc, vis, e)
        if own is not None:  # wisbot's own wording, in the reader's language
            spans.append(Span(text=": "))
            spans += own
        elif e.text:
            spans.append(Span(text=": "))
            if e.kind in FREE_TEXT_KINDS:
                reviewed = inc.anon_summary if e.kind == "reported" else anon_of(e)
                spans.append(_free(text_for(directory, inc, vis, e.text, reviewed)))
            else:  # an old row of wisbot's own wording, stored in English: redacted only
                spans.append(user(redactor_for(directory, inc.member)(e.text)
                                  if vis is Vis.ANONYMOUS else e.text))
        out.append(tuple(spans))
    return out


# ----- wisbot's own timeline wording ----------------------------------------------------
# A timeline entry wisbot writes itself keeps its English in ``text`` (old readers, exports)
# and a message key with its arguments in ``data`` (``{"msg": "ack", "args": {...}}``),
# rendered here in the reader's language. People are arguments (contact ids), rendered with
# actor_label, so an anonymised reader never reads a name.


def timeline_msg(msg: str, **args: object) -> dict[str, object]:
    """What a timeline entry's ``data`` holds for wisbot's own wording."""
    return {"msg": msg, "args": args}


def role_words(role: str) -> str:
    """An on-call role (``gisc:Offenbach``) in the reader's language."""
    kind, _sep, name = role.partition(":")
    if kind == "secretariat":
        return _("the WMO Secretariat")
    if kind == "gisc":
        return _("GISC {name}", name=name)
    if kind == "member":
        return _("Member {name}", name=name)
    return role


def _role_for(role: str, inc: Incident, vis: Vis) -> str:
    """A role as ``vis`` may read it: anonymised, the affected Member's is not named."""
    kind, _sep, name = role.partition(":")
    if vis is Vis.ANONYMOUS and kind == "member":
        return _("the affected Member") if name.casefold() == inc.member.casefold() \
            else _("a Member")
    return i18n.iso(role_words(role))


_MISSING = re.compile(r"^no (.+)$")


def missing_words(missing: str) -> str:
    """What a skipped contact lacks ("no Matrix user id", as the pager stored it) in the
    reader's language; platform names stay as they are."""
    m = _MISSING.match(missing)
    if m is None:
        return missing
    names: list[str] = []
    for part in m[1].split(" or "):
        if part == "chat id":
            names.append(_("chat id"))
        elif part.endswith(" user id"):
            names.append(_("{platform} user id", platform=part[:-len(" user id")]))
        elif part.endswith(" id"):
            names.append(_("{platform} id", platform=part[:-len(" id")]))
        else:
            names.append(part)
    what = names[0]
    for more in names[1:]:
        what = _("{first} or {second}", first=what, second=more)
    return _("no {what}", what=what)


_SLOT = "\ue000"


def _filled(template: str, *values: Span) -> list[Span]:
    """A translated sentence whose ``_SLOT`` marks are replaced by ``values`` (a person's
    or the configuration's words keep their own style)."""
    out: list[Span] = []
    for i, part in enumerate(template.split(_SLOT)):
        if part:
            out.append(Span(text=part))
        if i < len(values):
            out.append(values[i])
    return out


def _str(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    return "" if value is None else str(value)


def entry_spans(directory: Directory, inc: Incident, vis: Vis,
                entry: TimelineEntry) -> list[Span] | None:
    """wisbot's own wording of ``entry`` in the reader's language, or None (a person's
    text, or an old row stored before the message key: its ``text`` is shown)."""
    data = entry.data or {}
    msg = data.get("msg")
    raw = data.get("args")
    if not isinstance(msg, str) or not isinstance(raw, dict):
        return None
    args: dict[str, Any] = raw

    def who(contact: object) -> str:
        return actor_label(directory, str(contact), inc, vis)

    spans: list[Span]
    if msg == "target-missed":
        spans = [Span(text=_("{ref} ({role}) not acknowledged within 1 hour",
                             ref=i18n.iso(_str(args, "ref")),
                             role=_role_for(_str(args, "role"), inc, vis)))]
    elif msg == "ack":
        seconds = args.get("seconds")
        spans = [Span(text=_("{ref} ({role}) acknowledged after {took}",
                             ref=i18n.iso(_str(args, "ref")),
                             role=_role_for(_str(args, "role"), inc, vis),
                             took=format_duration(float(seconds)
                                                  if isinstance(seconds, (int, float))
                                                  else None)))]
    elif msg == "page-skipped":
        skipped = args.get("skipped") if isinstance(args.get("skipped"), list) else []
        paged = args.get("paged") if isinstance(args.get("paged"), list) else []
        parts = [_("{who} skipped ({missing})", who=who(g.get("contact")),
                   missing=missing_words(str(g.get("missing") or "")))
                 for g in skipped or [] if isinstance(g, dict)]
        parts.append(_("{people} paged at once", people=", ".join(who(p) for p in paged or []))
                     if paged else _("nobody else on the chain can be reached"))
        spans = [Span(text=_("{ref} ({role}): {what}", ref=i18n.iso(_str(args, "ref")),
                             role=_role_for(_str(args, "role"), inc, vis),
                             what=_("; ").join(parts)))]
    elif msg == "classified":
        now_ = code(_str(args, "to"))  # RSIT names stay as they are
        spans = _filled(_("{classification} (was {previous})", classification=_SLOT,
                          previous=_SLOT), now_, code(_str(args, "from"))) \
            if args.get("from") else \
            _filled(_("{classification} (was not classified)", classification=_SLOT), now_)
    elif msg == "share":  # share levels are command words
        spans = [Span(text=_("{share} (was {previous})", share=i18n.iso(_str(args, "share")),
                             previous=i18n.iso(_str(args, "previous"))))]
    elif msg == "model":  # the kind says it; the title is the Secretariat's configuration
        spans = [user(_str(args, "title"))]
    elif msg == "checked":  # the item: the model's checklist, as configured (not translated)
        spans = [Span(text=f"{_str(args, 'n')}. "),
                 user(_str(args, "item"))]
    else:
        return None
    if vis is Vis.ANONYMOUS:  # what names the Member or its people never reaches them
        redact = redactor_for(directory, inc.member)
        spans = [s.model_copy(update={"text": redact(s.text)}) for s in spans]
    return spans


def lesson_spans(directory: Directory, lesson: Lesson, inc: Incident, vis: Vis,
                 incident_vis: Vis, *, labelled: bool = False) -> tuple[Span, ...]:
    """``vis``: what the reader may see of the lesson; ``incident_vis``: of its incident;
    ``labelled``: the line starts with the lesson's TLP label (a list of lessons)."""
    if labelled:
        label = Span(text=f"{lesson_label(directory, lesson, inc).label} ")
        return (label, *lesson_spans(directory, lesson, inc, vis, incident_vis))
    if vis is Vis.ANONYMOUS:
        # No incident number: it would let a reader join the lesson to a named incident.
        head = f"L-{lesson.id} · {anonymous_label(inc.principal_gisc)} · "
        body = text_for(directory, inc, vis, lesson.text, lesson.anon_text)
    else:
        who = actor_label(directory, lesson.author, inc, vis)
        # A named lesson names the Member, not the incident: its number is shown only to
        # readers who may see the incident named (else it would de-anonymise it, or give
        # away the protected number of an incident the reader may not see).
        number = f"{inc.number} · " if incident_vis is Vis.NAMED else ""
        head = f"L-{lesson.id} · {number}{centre_label(directory, inc, vis)} · " \
               f"{lesson.share} · {who} · "  # share words are command words
        body = lesson.text
    return (Span(text=head), _free(body))


def _free(text: str) -> Span:
    """A person's text, or wisbot's notice in its place (not styled as their words)."""
    return Span(text=text, style="italic") if text == str(UNREVIEWED) else user(text)
