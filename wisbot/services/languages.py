"""Which language each reader reads: a room its directory ``language:``; a person the one
they chose (``language fr``, stored), else their directory entry's; else the deployment's
``WISBOT_LANGUAGE``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.errors import NotFound, UsageError
from wisbot.i18n import _
from wisbot.reply import Reply, ReplyBuilder, code
from wisbot.services.context import Caller
from wisbot.store.engine import Store
from wisbot.store.language_tables import PersonLanguage


def each_in_its_language(rooms: Sequence[Room], render: Callable[[], Reply],
                         ) -> list[tuple[Room, Reply]]:
    """``render()`` once per language of ``rooms``, each room given its own."""
    done: dict[str, Reply] = {}
    out = []
    for room in rooms:
        lang = room_language(room)
        if lang not in done:
            with i18n.use(lang):
                done[lang] = render()
        out.append((room, done[lang]))
    return out


def room_language(room: Room | None) -> str:
    return (room.language if room is not None else None) or i18n.default()


def person_language(session: Session, directory: Directory, contact_id: str) -> str:
    """The person's language: chosen with the command, else the directory's, else the
    deployment default."""
    row = session.get(PersonLanguage, contact_id)
    if row is not None:
        return row.language
    try:
        chosen = directory.contact(contact_id).language
    except NotFound:
        chosen = None
    return chosen or i18n.default()


def reader_language(session: Session, directory: Directory, caller: Caller) -> str:
    """A reply in a room is read by the room: its language; a direct one the person's."""
    if caller.room is not None:
        return room_language(caller.room)
    return person_language(session, directory, caller.contact.id)


NAMES = {"ar": "العربية", "zh": "中文", "en": "English", "fr": "Français", "ru": "Русский",
         "es": "Español"}
"""Each language named in itself (never translated: a reader finds their own)."""


class LanguageService:
    def __init__(self, store: Store, directory: Directory, clock: Clock) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock

    async def show(self, caller: Caller) -> Reply:
        def work(session: Session) -> Reply:
            mine = person_language(session, self.directory, caller.contact.id)
            b = ReplyBuilder(_("Language"))
            shown = mine + " – " + NAMES[mine]
            b.line(_("Yours (pages, e-mail, direct replies): {language}", language=shown))
            if caller.room is not None:
                here = room_language(caller.room)
                shown = here + " – " + NAMES[here]
                b.line(_("This room's (set in the directory): {language}", language=shown))
            b.line(_("Change yours: "), code("language <code>"), " – ",
                   " ".join(f"{c} ({NAMES[c]})" for c in i18n.LANGUAGES))
            return b.build(private=True)

        return await self.store.tx(work)

    async def set(self, caller: Caller, language: str) -> Reply:
        try:
            chosen = i18n.check(language)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(language.lower(), i18n.LANGUAGES, n=1,
                                              cutoff=0.5)
            hint = _(" (did you mean {code}?)", code=close[0]) if close else ""
            raise UsageError(_("unknown language {given}{hint}: use one of {codes}",
                               given=repr(language), hint=hint,
                               codes=" ".join(i18n.LANGUAGES))) from None
        if chosen not in i18n.LANGUAGES:
            raise UsageError(_("unknown language {given}{hint}: use one of {codes}",
                               given=repr(language), hint="", codes=" ".join(i18n.LANGUAGES)))

        def work(session: Session) -> Reply:
            row = session.get(PersonLanguage, caller.contact.id)
            if row is None:
                row = PersonLanguage(contact_id=caller.contact.id, language=chosen,
                                     set_at=self.clock())
            row.language, row.set_at = chosen, self.clock()
            session.add(row)
            with i18n.use(chosen):  # the confirmation in the language just chosen
                b = ReplyBuilder(_("Language"))
                shown = chosen + " – " + NAMES[chosen]
                b.line(_("Your language is now {language}: pages, e-mail and direct "
                         "replies use it. A room reads its own language.", language=shown))
                return b.build(private=True)

        return await self.store.tx(work)
