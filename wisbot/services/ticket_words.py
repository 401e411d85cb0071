"""Words about watch tickets that are made once and read in several languages.

A headline passed to :meth:`WatchService._tell` is rendered once per room language; a
service that writes it (WIS2 monitoring events, Global Monitor alerts, the WIS2 IMS
mirror) passes a :class:`Words`: the English text (what is logged, stored or matched)
that renders itself in the reader's language when it is shown.

A ticket's finding is stored in English (a record shared across languages, mirrored to
WIS2 IMS); :func:`finding_words` says the words wisbot added to it in the reader's
language, derived from the stored fields, and falls back to the stored English.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wisbot import i18n
from wisbot.i18n import _ as _t
from wisbot.i18n_stored import REASONS
from wisbot.reply import neutral


class Words(str):
    """English text (the ``str`` value) that renders in the current language when
    formatted (``_t("… {headline}", headline=words)``) or with :meth:`text`."""

    _render: Callable[[], str]

    def __new__(cls, render: Callable[[], str]) -> Words:
        with i18n.use("en"):
            english = render()
        self = super().__new__(cls, english)
        self._render = render
        return self

    def text(self) -> str:
        return self._render()

    def __format__(self, spec: str) -> str:
        return format(self._render(), spec)


_MENTION = re.compile(r"@(?=[\w.=\-/+]|\Z)")


def theirs(text: str, limit: int | None = None) -> str:
    """Words someone else wrote (a monitoring event's title, a person's note, a name)
    inside wisbot's own sentence: unable to pass for wisbot's (no line breaks, bidi
    controls, or mentions that would notify a room), isolated in right-to-left text."""
    shown = neutral(text if limit is None else text[:limit])
    return i18n.iso(_MENTION.sub("@\u2060", shown))


_WMEM_FINDING = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) from (\S+?): (.*)$", re.S)


def finding_words(reporter: str, finding: str) -> str:
    """A ticket's finding in the reader's language: a ticket opened by a WIS2 monitoring
    event (reporter ``WMEM <source>``, finding ``<SEVERITY> from <source>: <title>``) says
    "from" in the reader's language; the event's own words (and every other finding)
    stay as stored."""
    m = _WMEM_FINDING.match(finding)
    if m is not None and reporter == f"WMEM {m[2]}"[:128]:
        return _t("{severity} from {source}: {title}", severity=i18n.iso(m[1]),
                  source=i18n.iso(m[2]), title=i18n.iso(m[3]))
    # A finding from the probes: its parts (";" outside parentheses) are stored phrases.
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(finding):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and finding.startswith("; ", i):
            parts.append(finding[start:i])
            start = i + 2
    parts.append(finding[start:])
    return _t("; ").join(REASONS.words(p) for p in parts)
