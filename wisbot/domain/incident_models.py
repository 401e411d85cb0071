"""Incident models: templates for the incident types WIS centres meet (Annex 1 of the WMO
text). Data, not code: ``wisbot/data/incident_models.yaml`` ships with wisbot, and the
file named by the setting ``incident_models`` adds models or replaces shipped ones (same
key) without a release. Every problem is reported at once, with the file and the entry;
``wisbot reload`` loads the file again and keeps the models in use when it has errors."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wisbot.domain import rsit
from wisbot.errors import DirectoryError
from wisbot.i18n import _ as _t

SHIPPED = "wisbot/data/incident_models.yaml"
FIELDS = ("key", "title", "class", "severity", "why", "checklist")
MAX_CHECKLIST = 12
_KEY = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


@dataclass(frozen=True)
class IncidentModel:
    key: str
    title: str
    rsit: str
    """``class/type`` of the RSIT."""
    severity: int
    why: str
    """Why the suggested severity: shown with the severity's words."""
    checklist: tuple[str, ...]
    source: str


def _show(value: Any) -> str:
    """A value for an error message: scalars shortened, lists and mappings named by type
    (a file of YAML aliases can expand one value to millions of strings)."""
    if isinstance(value, (list, dict, set, tuple)):
        return f"a {type(value).__name__}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(entry: Any, where: str) -> list[str]:
    # In the reader's language (``wisbot reload`` from chat; the CLI: the default); the
    # field names and keys are the file's own words.
    if not isinstance(entry, dict):
        return [_t("{where}: each model is a mapping with {fields}", where=where,
                   fields=", ".join(FIELDS))]
    out: list[str] = []
    for name in entry:
        if name not in FIELDS:
            close = difflib.get_close_matches(_show(name), FIELDS, n=1)
            out.append(_t("{where}: unknown field {field}", where=where, field=_show(name))
                       + (_t(" (did you mean {word}?)", word=repr(close[0])) if close else ""))
    for name in FIELDS:
        if name not in entry:
            out.append(_t("{where}: {field} is missing", where=where, field=name))
    key = entry.get("key")
    if "key" in entry and not (isinstance(key, str) and _KEY.match(key)):
        out.append(_t("{where}: key {key} must be lowercase letters, digits and hyphens "
                      "(2 to 40, starting with a letter), e.g. phishing", where=where,
                      key=_show(key)))
    for name, most in (("title", 120), ("why", 300)):
        value = entry.get(name)
        if name in entry and not (isinstance(value, str) and value.strip()
                                  and len(value) <= most):
            out.append(_t("{where}: {field} must be text of 1 to {most} characters",
                          where=where, field=name, most=most))
    cls = entry.get("class")
    if "class" in entry:
        found = rsit.lookup(str(cls)) if isinstance(cls, str) else None
        if found is None:
            near = difflib.get_close_matches(_show(cls), list(rsit.taxonomy()), n=2)
            out.append(_t("{where}: class {value} is not an RSIT class/type", where=where,
                          value=_show(cls))
                       + (_t(" (nearest: {near})", near=", ".join(near)) if near else
                          _t(" (see `incident classify help`)")))
    level = entry.get("severity")
    if "severity" in entry and not (type(level) is int and 0 <= level <= 5):
        out.append(_t("{where}: severity must be a whole number from 0 to 5, not {value}",
                      where=where, value=_show(level)))
    items = entry.get("checklist")
    if "checklist" in entry:
        if not (isinstance(items, list) and 1 <= len(items) <= MAX_CHECKLIST):
            out.append(_t("{where}: checklist must be a list of 1 to {most} items",
                          where=where, most=MAX_CHECKLIST))
        else:
            for n, item in enumerate(items, 1):
                if not (isinstance(item, str) and item.strip() and len(item) <= 200):
                    out.append(_t("{where}: checklist item {n} must be text of 1 to 200 "
                                  "characters", where=where, n=n))
    return out


def parse_models(text: str, source: str) -> dict[str, IncidentModel]:
    """The models of one file; :class:`DirectoryError` naming every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)  # PyYAML's words, in English
        raise DirectoryError(source, [
            _t("not valid YAML at line {line}: {problem}", line=mark.line + 1,
               problem=problem) if mark is not None
            else _t("not valid YAML: {problem}", problem=problem)]) from None
    if not (isinstance(data, dict) and isinstance(data.get("models"), list)):
        raise DirectoryError(source, [_t("the file must hold `models:`, a list of models")])
    problems: list[str] = []
    models: dict[str, IncidentModel] = {}
    for i, entry in enumerate(data["models"]):
        key = entry.get("key") if isinstance(entry, dict) else None
        where = f"models[{i}]" + (f" ({key})" if isinstance(key, str) else "")
        found = _problems(entry, where)
        if not found and key in models:
            found = [_t("{where}: key {key} is used twice in this file", where=where,
                        key=repr(key))]
        problems += found
        if not found and isinstance(key, str):
            found_cls = rsit.lookup(entry["class"])
            assert found_cls is not None
            models[key] = IncidentModel(
                key=key, title=entry["title"].strip(), rsit=found_cls.value,
                severity=entry["severity"], why=entry["why"].strip(),
                checklist=tuple(i.strip() for i in entry["checklist"]), source=source)
    if problems:
        raise DirectoryError(source, problems)
    return models


def load_models(path: Path | None) -> dict[str, IncidentModel]:
    """The shipped models, then the file at ``path`` (its models add or replace)."""
    shipped = resources.files("wisbot.data").joinpath("incident_models.yaml")
    models = parse_models(shipped.read_text(encoding="utf-8"), SHIPPED)
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectoryError(str(path), [_t(
                "cannot read the incident models file: {problem}",
                problem=str(getattr(exc, "strerror", None) or exc))]) from None
        models.update(parse_models(text, str(path)))
    return models


class IncidentModels:
    """The models in use; :meth:`load` then :meth:`put` replaces them (``wisbot reload``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.models = load_models(path)

    def load(self) -> dict[str, IncidentModel]:
        return load_models(self.path)

    def put(self, models: dict[str, IncidentModel]) -> list[str]:
        """Put ``models`` in place; what changed, in words."""
        old, self.models = self.models, models
        added = sorted(set(models) - set(old))
        removed = sorted(set(old) - set(models))
        changed = sorted(k for k in set(models) & set(old) if models[k] != old[k])
        out = []
        for keys, words in ((added, _t("incident models added: {keys}")),
                            (changed, _t("incident models changed: {keys}")),
                            (removed, _t("incident models removed: {keys}"))):
            if keys:
                out.append(words.format(keys=", ".join(keys)))
        return out

    def get(self, key: str) -> IncidentModel:
        found = self.models.get(key.strip().casefold())
        if found is None:
            from wisbot.errors import UsageError
            from wisbot.i18n import _

            close = difflib.get_close_matches(key.casefold(), list(self.models), n=2)
            raise UsageError(_("no incident model {model}; the models are: {known}",
                               model=repr(key), known=", ".join(close or self.models)))
        return found
