"""Messages in the reader's language: gettext catalogs through Babel.

The language is context-local (:func:`use` sets it for a block, e.g. while one room's
message is rendered), so a cascade can render each room in its own language inside one
transaction. ``_("Severity")`` translates now; :func:`N_` marks a module-level constant
that is translated each time it is shown. Placeholders are ``{name}`` and are filled
after translation, so a translator may move them.

Catalogs live in ``wisbot/locale/<lang>/LC_MESSAGES/wisbot.po``; they are compiled in
memory the first time a language is used (a checked-out tree and an editable install
work without a build step). The pseudo-locale ``qps`` wraps every translated string in
⟦…⟧: English left unwrapped in its output escaped the catalogs.

Command words, share levels, TLP names and ids are never translated.
"""

from __future__ import annotations

import gettext as _gettext
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES: tuple[str, ...] = ("en", "ar", "zh", "fr", "ru", "es")
"""The six official languages of the WMO; ``en`` is the source language."""
PSEUDO = "qps"
"""The pseudo-locale: every translated string in ⟦…⟧ (tests and translators' previews)."""
RTL = frozenset({"ar"})
DOMAIN = "wisbot"
log = logging.getLogger(__name__)
LOCALE_DIR = Path(__file__).parent / "locale"

FSI, PDI = "\u2068", "\u2069"
"""First-strong isolate and pop-directional isolate: text between them keeps its own
direction, so a Latin code inside an Arabic line does not reorder the line around it."""

_current: ContextVar[str | None] = ContextVar("wisbot_language", default=None)
_default = ["en"]  # the deployment's default (WISBOT_LANGUAGE), set by the App


def set_default(language: str) -> None:
    """The language of readers who chose none (``WISBOT_LANGUAGE``)."""
    _default[0] = check(language)


def default() -> str:
    return _default[0]


def current() -> str:
    return _current.get() or _default[0]


@contextmanager
def use(language: str | None) -> Iterator[str]:
    """Render the block in ``language`` (``None``: the deployment default)."""
    lang = check(language) if language else _default[0]
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def check(language: str) -> str:
    """A language code as stored, or ValueError naming the codes (did-you-mean)."""
    code = language.strip().lower().replace("_", "-")
    if code in LANGUAGES or code == PSEUDO:
        return code
    short = code.split("-")[0]
    if short in LANGUAGES:
        return short
    import difflib

    close = difflib.get_close_matches(code, LANGUAGES, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"unknown language {language!r}{hint}: use one of {' '.join(LANGUAGES)}")


def is_rtl(language: str | None = None) -> bool:
    return (language or current()) in RTL


def iso(text: str) -> str:
    """``text`` isolated from the line around it when the current language is RTL."""
    return f"{FSI}{text}{PDI}" if is_rtl() and text else text


# ----- catalogs -------------------------------------------------------------------------


@cache
def _catalog(language: str) -> _gettext.NullTranslations:
    """The language's catalog, compiled from its .po in memory (a missing catalog is
    English). Fuzzy entries are not used."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def _pseudo(text: str) -> str:
    return f"⟦{text}⟧"


def _fill(text: str, kwargs: dict[str, object], source: str | None = None) -> str:
    """``text`` with its placeholders filled. A translation that does not format (a
    translator's stray brace or renamed placeholder) must not lose the message: the
    English ``source`` is used instead, and the slip is logged."""
    if not kwargs:
        return text
    try:
        return text.format(**kwargs)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        if source is None or source == text:
            raise
        log.error("catalog %s: %r does not format (%s); shown in English", current(), text,
                  exc)
        return source.format(**kwargs)


def fill(translated: str, source: str, values: dict[str, object]) -> str:
    """A translation already looked up, filled; its English ``source`` if it does not
    format (see :func:`_fill`)."""
    return _fill(translated, values, source)


def _(message: str, **kwargs: object) -> str:
    """``message`` in the current language, placeholders filled from ``kwargs``."""
    lang = current()
    if lang == PSEUDO:
        return _fill(_pseudo(message), kwargs)
    if lang == "en":
        return _fill(message, kwargs)
    return _fill(_catalog(lang).gettext(message), kwargs, message)


def ngettext(singular: str, plural: str, n: int, **kwargs: object) -> str:
    """The form for ``n`` in the current language (Arabic and Russian have several);
    ``{n}`` is filled with ``n`` formatted for the language."""
    lang = current()
    values = {"n": number(n), **kwargs}
    if lang == PSEUDO:
        return _fill(_pseudo(singular if n == 1 else plural), values)
    if lang == "en":
        return _fill(singular if n == 1 else plural, values)
    return _fill(_catalog(lang).ngettext(singular, plural, n), values,
                 singular if n == 1 else plural)


class Lazy(str):
    """A module-level string translated when shown (``str(x)`` or :meth:`text`)."""

    __slots__ = ()

    def text(self, **kwargs: object) -> str:
        return _(str.__str__(self), **kwargs)

    def __str__(self) -> str:
        return self.text()

    def __format__(self, spec: str) -> str:
        return format(self.text(), spec)


def N_(message: str) -> Lazy:
    """Mark ``message`` for extraction; it is translated each time it is shown."""
    return Lazy(message)


# ----- numbers and dates ----------------------------------------------------------------


def _babel_locale() -> Locale:
    lang = current()
    return Locale.parse("en" if lang == PSEUDO else lang)


def number(value: float) -> str:
    return format_decimal(value, locale=_babel_locale())


def day(value: date) -> str:
    return _format_date(value, format="medium", locale=_babel_locale())


def when(value: datetime) -> str:
    """A moment in UTC, formatted for the language, saying that it is UTC."""
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    shown = _format_datetime(at, format="yyyy-MM-dd HH:mm", tzinfo=UTC,
                             locale=_babel_locale())
    return iso(f"{shown} UTC")  # a right-to-left line keeps the date in order


def when_short(value: datetime) -> str:
    """A day and time without the year (``02 Mar 09:00 UTC``), in UTC, saying so."""
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    loc = _babel_locale()
    if loc.language == "en":
        return f"{_format_datetime(at, 'dd MMM HH:mm', tzinfo=UTC, locale=loc)} UTC"
    # The language's own order of day and month ("12月2日", "2 déc.").
    shown = format_skeleton("MMMd", at, tzinfo=UTC, locale=loc)
    return iso(f"{shown} {_format_datetime(at, 'HH:mm', tzinfo=UTC, locale=loc)} UTC")


def when_long(value: datetime) -> str:
    """A moment in words for the language (``2 déc. 2026, 11:08``), in UTC, saying so."""
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return iso(f"{_format_datetime(at, format='medium', tzinfo=UTC, locale=_babel_locale())} UTC")


class Said(str):
    """English text that is stored, logged and compared as it is (a hold's detail, an
    operator's check), and that knows its message: :meth:`text` renders it in the current
    language for a reader. Made with :func:`said` from an ``N_`` message (so it is
    extracted); placeholder values that are ``Said`` themselves are rendered too, and a
    list or tuple of values is joined with commas."""

    message: str
    values: dict[str, object]

    def text(self) -> str:
        return _(self.message, **{k: _shown(v) for k, v in self.values.items()})


def _shown(value: object) -> object:
    if isinstance(value, Said):
        return value.text()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_shown(v)) for v in value)
    return value


def _english(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value


def said(message: str, **kwargs: object) -> Said:
    """``message`` (marked with ``N_``) filled in English, translatable later."""
    text = Said(str.__str__(message).format(**{k: _english(v) for k, v in kwargs.items()}))
    text.message = str.__str__(message)
    text.values = kwargs
    return text


def shown(value: str) -> str:
    """``value`` for a reader: a :class:`Said` in the current language, else as it is."""
    return value.text() if isinstance(value, Said) else value
