"""Settings errors a person can act on: where the value came from (the TOML file and
line, the environment variable or the command-line option), the key, what is wrong in
plain words, and the nearest setting for an unknown key."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from wisbot.errors import WisbotError

NOT_SETTINGS = ("WISBOT_CONFIG", "WISBOT_REQUIRE_SERVICES")
NOT_SETTINGS_PREFIXES = ("WISBOT_TEST_", "WISBOT_BENCH_")
"""``WISBOT_*`` variables that are not settings (the config file's name, the tests')."""


class SettingsError(WisbotError, ValueError):
    """ValueError too: what pydantic's validation error was to callers before."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the settings are not valid:\n" + "\n".join(f"  • {p}"
                                                                      for p in problems))


def nearest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _toml_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=|^\s*\[\s*{re.escape(key)}\s*\]")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


class Sources:
    """Where each key's value came from, in the order settings are read."""

    def __init__(self, overrides: Mapping[str, Any], config: str | None) -> None:
        self.overrides = overrides
        self.config = config
        self.toml_text = ""
        if config:
            try:
                self.toml_text = Path(config).read_text(encoding="utf-8")
            except OSError:
                self.toml_text = ""

    def where(self, key: str, *, with_key: bool = True) -> str:
        if key in self.overrides:
            return f"option --{key.replace('_', '-')}"
        env = f"WISBOT_{key.upper()}"
        if any(name.upper() == env for name in os.environ):
            return f"environment variable {env}"
        if self.config:
            line = _toml_line(self.toml_text, key)
            at = f"{self.config}, line {line}" if line is not None else self.config
            return f"{at}, {key}" if with_key else at
        return key if with_key else "settings"


def _secret(fields: Mapping[str, Any], key: str) -> bool:
    info = fields.get(key)
    if info is None:
        return False
    return "SecretStr" in str(info.annotation) or info.repr is False


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe(exc: ValidationError, fields: Mapping[str, Any], sources: Sources) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        key = str(loc[0]) if loc else "?"
        where = sources.where(key)
        if err.get("type") == "extra_forbidden":
            where = sources.where(key, with_key=False)
            if isinstance(err.get("input"), dict):
                hint = (f"settings are top-level keys ({key}_… = …), not a [{key}] table"
                        if any(f.startswith(key + "_") for f in fields) else
                        "not a wisbot setting")
                problems.append(f"{where}: unknown setting {key!r}: {hint}")
                continue
            guess = nearest(key, fields)
            hint = (f" (did you mean {guess!r}?)" if guess else
                    " (wisbot/settings.py lists every setting)")
            problems.append(f"{where}: unknown setting {key!r}{hint}")
            continue
        shown = ""
        if "input" in err and not _secret(fields, key) and not isinstance(err["input"],
                                                                           dict | SecretStr):
            shown = f" (given {err['input']!r})"
        info = fields.get(key)
        about = f"; {key}: {info.description}" if info is not None and info.description else ""
        problems.append(f"{where}: {_message(err)}{shown}{about}")
    return problems


def unknown_environment(fields: Iterable[str]) -> list[str]:
    """``WISBOT_*`` environment variables that name no setting (they would be ignored)."""
    known = list(fields)
    out: list[str] = []
    for name in sorted(os.environ):
        upper = name.upper()
        if (not upper.startswith("WISBOT_") or upper in NOT_SETTINGS
                or upper.startswith(NOT_SETTINGS_PREFIXES)):
            continue
        key = upper.removeprefix("WISBOT_").lower()
        if key in known:
            continue
        guess = nearest(key, known)
        hint = f" (did you mean WISBOT_{guess.upper()}?)" if guess else ""
        out.append(f"environment variable {name} is not a wisbot setting and is "
                   f"ignored{hint}")
    return out
