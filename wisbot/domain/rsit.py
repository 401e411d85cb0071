"""The Reference Security Incident Taxonomy (RSIT): the classes and types the CSIRT
community classifies incidents with (``fraud/phishing``), shipped as
``wisbot/data/rsit.json`` with its source and licence named."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from wisbot.errors import UsageError
from wisbot.i18n import _ as _t


@dataclass(frozen=True)
class RsitType:
    cls: str
    type: str
    class_words: str
    description: str

    @property
    def value(self) -> str:
        """``class/type``, as stored on the incident."""
        return f"{self.cls}/{self.type}"

    @property
    def words(self) -> str:
        """The classification in words, e.g. 'Fraud: phishing'."""
        return f"{self.class_words}: {self.type.replace('-', ' ')}"

    @property
    def machine_tag(self) -> str:
        """The MISP taxonomy tag, e.g. ``rsit:fraud="phishing"``."""
        return f'rsit:{self.cls}="{self.type}"'


@cache
def taxonomy() -> dict[str, RsitType]:
    """Every ``class/type`` of the shipped taxonomy, in its order."""
    raw = resources.files("wisbot.data").joinpath("rsit.json").read_bytes().decode("utf-8")
    out: dict[str, RsitType] = {}
    for c in json.loads(raw)["classes"]:
        for t in c["types"]:
            found = RsitType(c["value"], t["value"], c["words"], t["description"])
            out[found.value] = found
    return out


def classes() -> list[str]:
    return list(dict.fromkeys(t.cls for t in taxonomy().values()))


def lookup(value: str) -> RsitType | None:
    """A stored classification (``None`` for none, or one the taxonomy no longer has)."""
    return taxonomy().get(value) if value else None


def words(value: str | None) -> str:
    """A stored classification in words for the card ('Fraud: phishing (fraud/phishing)')."""
    if not value:
        return "not classified"
    found = lookup(value)
    return f"{found.words} ({value})" if found else value


def parse(text: str) -> RsitType:
    """``class/type`` as typed (any case, ``_`` or spaces for ``-``, ``:`` or ``=`` for
    ``/``); a clear error with the closest ones otherwise."""
    key = _normal(text)
    if not key or len(key) > 80:
        raise UsageError(_t("give the RSIT class and type, e.g. fraud/phishing"))
    found = taxonomy().get(key)
    if found is not None:
        return found
    known = list(taxonomy())
    if key in classes():
        types = [v for v in known if v.startswith(key + "/")]
        raise UsageError(_t("{key} is an RSIT class: give its type too, one of {types}",
                            key=key, types=', '.join(types)))
    # A type alone ('phishing') names its class/type when only one class has it.
    by_type = [v for v in known if v.split("/", 1)[1] == key]
    guesses = by_type or difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if not guesses:  # a misspelt type: match the part after the class too
        tails = {v.split("/", 1)[1]: v for v in known}
        part = key.split("/", 1)[-1]
        guesses = [tails[t] for t in difflib.get_close_matches(part, list(tails), n=3,
                                                               cutoff=0.7)]
    hint = f"; did you mean {' or '.join(guesses)}?" if guesses else \
        f"; the classes are {', '.join(classes())} (e.g. fraud/phishing)"
    shown = text.strip()[:80]
    raise UsageError(_t("{shown!r} is not an RSIT class/type{hint}", shown=shown, hint=hint))


def _normal(text: str) -> str:
    key = text.strip().lower().replace("_", "-").replace(" ", "-")
    for sep in (":", "=", "."):
        key = key.replace(sep, "/")
    return key.strip('"/')


def parse_filter(text: str) -> str:
    """A list filter: an RSIT class (``fraud``) or ``class/type``."""
    key = _normal(text)
    if key in classes():
        return key
    near = difflib.get_close_matches(key, classes(), n=2, cutoff=0.7) if "/" not in key \
        else []
    if near:
        raise UsageError(_t("{strip!r} is not an RSIT class; did you mean {near}?",
                            strip=text.strip()[:80], near=' or '.join(near)))
    return parse(text).value
