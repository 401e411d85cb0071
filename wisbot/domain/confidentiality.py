"""Who may see an incident, and how: named, anonymised, or not at all.

The audience of every message is decided here, once, from the incident's confidentiality
and the room's role. Adapters never choose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Share(Enum):
    """How widely the affected Member lets an incident be told (ordered, narrow → wide)."""

    SECRETARIAT = "secretariat"
    PRINCIPAL_GISC = "principal-gisc"
    ALL_GISCS = "all-giscs"
    GROUP = "group"

    @property
    def rank(self) -> int:
        return list(Share).index(self)

    @classmethod
    def parse(cls, text: str) -> Share:
        for s in cls:
            if s.value == text.strip().lower():
                return s
        raise ValueError(f"unknown share level {text!r}")


SHARE_HELP: dict[Share, str] = {
    Share.SECRETARIAT: "the WMO Secretariat only (and the Member's own room)",
    Share.PRINCIPAL_GISC: "+ the centre's principal GISC",
    Share.ALL_GISCS: "+ every other GISC",
    Share.GROUP: "+ every GISC's area room and the collaboration room (the whole group)",
}


class Vis(Enum):
    """What one audience sees of one incident."""

    NONE = 0
    ANONYMOUS = 1
    NAMED = 2


def vmin(a: Vis, b: Vis) -> Vis:
    return a if a.value <= b.value else b


def vmax(a: Vis, b: Vis) -> Vis:
    return a if a.value >= b.value else b


@dataclass(frozen=True)
class Exposure:
    """The facts about an incident that decide its audience."""

    member: str
    principal_gisc: str
    share: Share
    anonymous: bool


def role_visibility(role: str, exp: Exposure) -> Vis:
    """What an audience with ``role`` (a room role, e.g. ``gisc:Tokyo``) sees."""
    kind, _, name = role.partition(":")
    anon = Vis.ANONYMOUS if exp.anonymous else Vis.NAMED
    if kind == "secretariat":
        return Vis.NAMED
    if kind == "member":
        return Vis.NAMED if name.casefold() == exp.member.casefold() else Vis.NONE
    if kind == "gisc":
        if name.casefold() == exp.principal_gisc.casefold():
            return Vis.NAMED if exp.share.rank >= Share.PRINCIPAL_GISC.rank else Vis.NONE
        return anon if exp.share.rank >= Share.ALL_GISCS.rank else Vis.NONE
    if kind in ("area", "collaboration"):
        return anon if exp.share is Share.GROUP else Vis.NONE
    return Vis.NONE


def cascade_rank(role: str, principal_gisc: str) -> int:
    """Cascade order: Secretariat → Member → principal GISC → other GISCs → areas →
    collaboration."""
    kind, _, name = role.partition(":")
    if kind == "secretariat":
        return 0
    if kind == "member":
        return 1
    if kind == "gisc":
        return 2 if name.casefold() == principal_gisc.casefold() else 3
    if kind == "area":
        return 4 if name.casefold() == principal_gisc.casefold() else 5
    if kind == "collaboration":
        return 6
    return 7


def person_roles(contact_roles: Iterable[str], principal_giscs: Iterable[str]) -> set[str]:
    """The audience roles a person belongs to, from their directory roles.

    ``principal_giscs`` are the principal GISCs of the person's Members' centres: a Member's
    focal point is in those GISCs' area rooms. Everyone is in the collaboration room.
    """
    roles = {"collaboration"}
    for role in contact_roles:
        kind, _, name = role.partition(":")
        if kind == "secretariat":
            roles.add("secretariat")
        elif kind == "gisc":
            roles.update({f"gisc:{name}", f"area:{name}"})
        elif kind == "member":
            roles.add(f"member:{name}")
    roles.update(f"area:{g}" for g in principal_giscs)
    return roles


def best_visibility(roles: Iterable[str], exp: Exposure) -> Vis:
    best = Vis.NONE
    for role in roles:
        best = vmax(best, role_visibility(role, exp))
    return best


def anonymous_label(principal_gisc: str) -> str:
    return f"a WIS centre in the area of GISC {principal_gisc}"


# Letters that read as Latin ones (Cyrillic, Greek): "Gеrmany" with a Cyrillic e is
# still Germany to a reader.
_LOOKALIKES = str.maketrans({
    "а": "a", "е": "e", "ё": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "к": "k",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ι": "i",
    "κ": "k", "ν": "v", "ρ": "p", "υ": "u", "χ": "x", "α": "a",
})


def _fold(ch: str) -> str:
    """One character as a reader takes it: compatibility forms (full-width, ligatures,
    no-break spaces), accents, look-alikes and case folded away; invisible format
    characters (zero-width spaces, soft hyphens) dropped."""
    if unicodedata.category(ch) == "Cf":
        return ""
    decomposed = unicodedata.normalize("NFKD", ch.translate(_LOOKALIKES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _skeleton(text: str) -> tuple[str, list[int]]:
    """``text`` folded, and for each folded character the index it came from."""
    if text.isascii():  # the common case: one lower-case character for each
        return text.lower(), list(range(len(text)))
    chars = set(text)
    for ch in chars - _FOLDED.keys():
        _FOLDED[ch] = _fold(ch)
    if all(len(_FOLDED[ch]) == 1 for ch in chars):  # one for one: fold in C
        return text.translate({ord(ch): _FOLDED[ch] for ch in chars}), list(range(len(text)))
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = _FOLDED[ch]
        out.extend(folded)
        where.extend([i] * len(folded))
    return "".join(out), where


_FOLDED: dict[str, str] = {}
"""Characters already folded (a handful of scripts in practice)."""


# A possessive or plural written after a name: "DWD's", "DWD’s", "DWDs", "Webers".
_SUFFIX = r"(?P<suffix>(?:['\u2019\u02bc\u2018`\u00b4]s|s)?)"

# Phone numbers, found in the folded text whoever they belong to: international form
# ("+49 69 8062 0", "0049 (0)69 8062-0"), a national form with a keyword ("tel. 069
# 80620"), and a national trunk-prefix form with groups ("069 8062 0", "(069) 8062-0").
_SEP = r"[ \t().\-/]{0,3}"
_SPACED = "a-z\u00df-\u024f\u0370-\u03ff\u0400-\u052f"
"""Letters of the scripts that separate words with spaces (Latin, Greek, Cyrillic, as
folded). Chinese and Japanese have no spaces and Arabic glues its prefixes ("لـ", "و") to
the next word: a name or a number written right against those letters is still a word."""
_PHONE = re.compile(
    r"(?<![\d" + _SPACED + r"_+])(?:\+|00)[1-9]\d{0,2}(?:" + _SEP + r"\d){6,14}(?!\d)"
    r"|(?<![" + _SPACED + r"])(?:tel(?:ephone|efono|efone|efon)?|phone|fax|mobile?|mob|cell"
    r"|call|ring|movil|portable|telefonu?|тел(?:ефон)?|моб|факс|هاتف|جوال|فاكس"
    r"|电话|手机|致电|传真|電話)[ \t.:：]{0,3}"
    r"\(?(?P<kw>\d(?:" + _SEP + r"\d){5,14})(?!\d)"
    r"|(?<![\d" + _SPACED + r"_.:])\(?0[1-9]\d{0,4}\)?(?:[ \t\-/]{1,3}\d+){1,4}"
    r"(?![\d" + _SPACED + r"_.:])"
)
_DATE = re.compile(r"^\d{1,4}[-./ ]\d{1,2}[-./ ]\d{1,4}$")


_DIGIT_RUN = re.compile(r"\d(?:[ \t().\-/]{0,3}\d){6,}")
"""Where a phone number can be: seven digits or more, close together."""


def _phone_spans(folded: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(folded):
        # The number's prefix ("tel. ", "+", "(") sits just before its digits.
        start = max(0, run.start() - 12)
        for m in _PHONE.finditer(folded, start, min(len(folded), run.end() + 1)):
            a, b = m.span("kw") if m.group("kw") else m.span()
            text = folded[a:b]
            if sum(c.isdigit() for c in text) < 7 or _DATE.match(text.strip("()")):
                continue  # a short number or a date, not a phone number
            if not out or a >= out[-1][1]:
                out.append((a, b))
    return out


_Trie = dict[str, "_Trie"]
_END = ""
_SEP_KEY = " "
"""Trie keys: a folded character; ``_SEP_KEY`` separators between a term's parts (any,
or none); ``_END`` a term ends here."""


def _trie_regex(node: _Trie) -> str:
    """The alternation of a trie, longest match first (a term may end where a longer one
    goes on: ``DWD`` and ``DWD backup``)."""
    branches: list[str] = []
    for key in sorted(k for k in node if k != _END):
        head = r"[\W_]*" if key == _SEP_KEY else re.escape(key)
        branches.append(head + _trie_regex(node[key]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return "(?:" + body + ")?" if _END in node else body


def _upper_as_read(text: str) -> bool:
    letters = [c for c in unicodedata.normalize("NFKC", text.translate(_LOOKALIKES))
               if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


class Redactor:
    """Removes what identifies a Member from text shown anonymised: its names, codes,
    centres' identifiers, aliases, people, e-mails and phone numbers (the caller lists
    them), and any phone number at all.

    A term matches however it is spelt: any case, accents, full-width or look-alike
    letters, invisible characters, and any separators (or none) between its parts
    (``DE-OF-NC``, ``de_of_nc``, ``DEOFNC``; ``Anna Weber``, ``anna.weber``), with a
    plural or possessive after it (``DWDs``, ``DWD's``, ``DWD’s``). It is bounded by
    letters of space-separated scripts only, so ``dwd01``, ``DWD_backup``, ``DWD的`` and
    ``لـDWD`` are caught too, and a Chinese or Arabic name inside running text. A term of one or two
    letters (a Member code such as ``IT`` or ``DE``) matches only written in capitals:
    withholding every "it" or "de" would itself point at the Member.
    """

    def __init__(self, identifying: Iterable[str], replacement: str = "[withheld]", *,
                 shared: Redactor | None = None) -> None:
        """``shared``: a Redactor whose terms are withheld too, built once for many (the
        people of every Member); its own phone matching is not repeated."""
        self._shared = shared
        terms = sorted({t.strip() for t in identifying if t and len(t.strip()) >= 2},
                       key=len, reverse=True)
        self.replacement = replacement
        trie: _Trie = {}
        for term in terms:
            parts = re.findall(r"[^\W_]+", _skeleton(term)[0])
            if not parts:
                continue
            node = trie
            for k, part in enumerate(parts):
                if k:
                    node = node.setdefault(_SEP_KEY, {})
                for ch in part:
                    node = node.setdefault(ch, {})
            node[_END] = {}
        # One trie-shaped alternation: at each position the engine follows one branch per
        # character instead of trying every term (thousands at WMO scale).
        self._pattern = (
            re.compile(r"(?<![" + _SPACED + r"])(?P<core>" + _trie_regex(trie) + r")"
                       + _SUFFIX + r"(?![" + _SPACED + r"])")
            if trie else None
        )
        shared_terms: tuple[str, ...] = shared._terms if shared is not None else ()
        self._terms: tuple[str, ...] = tuple(t.casefold() for t in terms) + shared_terms

    def _term_spans(self, text: str, folded: str, where: list[int]) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        if self._pattern is not None:
            for m in self._pattern.finditer(folded):
                core = m.group("core")
                if len(core) <= 2 and core.isalpha():
                    start, end = m.span("core")
                    if not _upper_as_read(text[where[start]:where[end - 1] + 1]):
                        continue
                if m.end() > m.start():
                    found.append(m.span())
        if self._shared is not None:
            found.extend(self._shared._term_spans(text, folded, where))
        return found

    def _spans(self, text: str) -> list[tuple[int, int]]:
        folded, where = _skeleton(text)
        found = self._term_spans(text, folded, where) + _phone_spans(folded)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return [(where[start], where[end - 1] + 1) for start, end in merged if end > start]

    def __call__(self, text: str) -> str:
        out: list[str] = []
        last = 0
        for start, end in self._spans(text):
            out.append(text[last:start])
            out.append(self.replacement)
            last = end
        out.append(text[last:])
        return "".join(out)

    def leaks(self, text: str) -> list[str]:
        """The identifying terms (and phone numbers) still present in ``text``."""
        return [text[start:end] for start, end in self._spans(text)]
