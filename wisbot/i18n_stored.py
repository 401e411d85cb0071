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

from wisbot.i18n import Lazy, _

_FIELD = re.compile(r"\{(\w+)\}")


class Phrase:
    __slots__ = ("pattern", "template")

    def __init__(self, template: Lazy) -> None:
        self.template = template
        parts = _FIELD.split(str.__str__(template))
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)"
                        for i, p in enumerate(parts))
        self.pattern = re.compile(regex, re.DOTALL)

    def en(self, **values: object) -> str:
        """The English text stored (and shown to English readers)."""
        return str.__str__(self.template).format(**values)


class Phrases:
    def __init__(self) -> None:
        self._phrases: list[Phrase] = []

    def add(self, template: Lazy) -> Phrase:
        phrase = Phrase(template)
        self._phrases.append(phrase)
        return phrase

    def words(self, text: str) -> str:
        """``text`` in the current language if a template produced it, else as it is."""
        for phrase in self._phrases:
            if m := phrase.pattern.fullmatch(text):
                values = {k: self.words(v) for k, v in m.groupdict().items()}
                return _(str.__str__(phrase.template)).format(**values)
        return text


REASONS = Phrases()
"""Probe reasons and GISC Watch results (wisbot.probes, wisbot.services.watch)."""
