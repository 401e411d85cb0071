"""Phrases wisbot stores in English and translates when they are shown.

A probe's reason or a ticket's result is written once, when the probe runs, and read later
in every room's language. It is stored as the English text of a catalogued template
(``Phrases.add(N_("… {seconds} s …"))``); :meth:`Phrases.words` recognises the template
again and renders it in the current language, the values it carried translated too where
they are themselves phrases. Text no template produced (a server's own error message) is
shown as it is.
"""

from __future__ import annotations

import re

from wisbot import i18n
from wisbot.i18n import Lazy, _

_FIELD = re.compile(r"\{(\w+)\}")


class Phrase:
    __slots__ = ("literals", "names", "template")

    def __init__(self, template: Lazy) -> None:
        self.template = template
        parts = _FIELD.split(str.__str__(template))
        self.literals: list[str] = parts[0::2]
        self.names: list[str] = parts[1::2]

    def en(self, **values: object) -> str:
        """The English text stored (and shown to English readers)."""
        return str.__str__(self.template).format(**values)

    def parse(self, text: str) -> dict[str, str] | None:
        """The values of ``text`` if this template wrote it. One pass, left to right: a
        value ends at the first place the next words of the template appear (the last one
        where the template's own ending begins), so a server's text cannot make it slow."""
        first, *rest = self.literals
        if not self.names:
            return {} if text == first else None
        if not text.startswith(first):
            return None
        values: dict[str, str] = {}
        pos = len(first)
        for k, (name, literal) in enumerate(zip(self.names, rest, strict=True)):
            if k == len(self.names) - 1:
                end = len(text) - len(literal)
                if end < pos or not text.endswith(literal):
                    return None
            else:
                if not literal:
                    return None  # two values side by side: no way to tell where one ends
                end = text.find(literal, pos)
                if end < 0:
                    return None
            values[name] = text[pos:end]
            pos = end + len(literal)
        return values


class Phrases:
    def __init__(self) -> None:
        self._phrases: list[Phrase] = []

    def add(self, template: Lazy) -> Phrase:
        phrase = Phrase(template)
        self._phrases.append(phrase)
        return phrase

    def words(self, text: str, *, depth: int = 0) -> str:
        """``text`` in the current language if a template produced it, else as it is.
        A value inside is translated too, up to three levels down: a server's message
        may look like a phrase nested a thousand times."""
        if depth > 3 or len(text) > 4000:
            return text
        for phrase in self._phrases:
            if (found := phrase.parse(text)) is not None:
                values: dict[str, object] = {k: self.words(v, depth=depth + 1)
                                             for k, v in found.items()}
                english = str.__str__(phrase.template)
                return i18n.fill(_(english), english, values)
        return text


REASONS = Phrases()
"""Probe reasons and GISC Watch results (wisbot.probes, wisbot.services.watch)."""
