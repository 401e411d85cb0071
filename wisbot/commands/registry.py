"""Command declarations, shell-like parsing and generated usage.

Each command is declared once (:class:`Command`) in an explicit :class:`Registry`; every
surface (console, Matrix, Slack) dispatches through the same registry. Arguments are
positional words, ``key=value`` options, bare flags and free text at the end; quotes group
words. Errors are :class:`~wisbot.errors.UsageError` with a message, and the dispatcher
appends the usage generated from the declaration.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wisbot.errors import UsageError
from wisbot.i18n import _
from wisbot.reply import Reply

if TYPE_CHECKING:
    from wisbot.commands.dispatch import Ctx

ArgKind = Literal["word", "int", "option", "flag", "text"]
Handler = Callable[["Ctx", dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind = "word"
    help: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    choice_help: Mapping[str, str] = field(default_factory=dict)
    default: Any = None
    int_range: tuple[int, int] | None = None
    metavar: str | None = None

    def usage(self) -> str:
        if self.kind == "flag":
            shown = "|".join(self.choices) if self.choices else self.name
            return f"[{shown}]"
        if self.kind == "option":
            value = "|".join(self.choices) if self.choices else (
                f"{self.int_range[0]}..{self.int_range[1]}" if self.int_range
                else (self.metavar or "value"))
            text = f"{self.name}={value}"
            return text if self.required else f"[{text}]"
        text = f"<{self.metavar or self.name}>"
        return text if self.required else f"[{text}]"


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    help: str
    example: str
    handler: Handler
    args: tuple[Arg, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def usage(self) -> str:
        return " ".join([self.name, *(a.usage() for a in self.args)])

    def usage_text(self) -> str:
        """Usage and help in the reader's language; the command words, options and the
        example stay as typed in every language."""
        lines = [_("Usage: {usage}", usage=self.usage()), _(self.help)]
        for arg in self.args:
            for choice, words in arg.choice_help.items():
                lines.append(f"  {arg.name}={choice}: {_(words)}" if arg.kind == "option"
                             else f"  {choice}: {_(words)}")
        lines.append(_("Example: {example}", example=self.example))
        return "\n".join(lines)


@dataclass(frozen=True)
class Token:
    value: str
    start: int
    end: int
    quoted: bool


def tokenize(text: str) -> list[Token]:
    """Split like a shell: spaces separate, quotes group; an apostrophe inside a word
    (``server's``) is a letter, not a quote."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        buf: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            ch = text[i]
            at_word_start = i == start or text[i - 1] == "="
            if ch in "\"'“”‘’" and at_word_start:
                closer = {"“": "”", "‘": "’"}.get(ch, ch)
                end = text.find(closer, i + 1)
                if end < 0:
                    raise UsageError(_("unclosed quote {quote} at character {n}",
                                       quote=ch, n=i + 1))
                buf.append(text[i + 1:end])
                quoted = True
                i = end + 1
                continue
            buf.append(ch)
            i += 1
        tokens.append(Token("".join(buf), start, i, quoted))
    return tokens


def parse_args(cmd: Command, raw: str) -> dict[str, Any]:
    tokens = tokenize(raw)
    options = {a.name: a for a in cmd.args if a.kind == "option"}
    flags: dict[str, Arg] = {}
    for a in cmd.args:
        if a.kind == "flag":
            for word in a.choices or (a.name,):
                flags[word] = a
    positional = [a for a in cmd.args if a.kind in ("word", "int")]
    text_arg = next((a for a in cmd.args if a.kind == "text"), None)
    out: dict[str, Any] = {a.name: a.default for a in cmd.args}
    pos = 0
    i = 0
    text_start: int | None = None
    while i < len(tokens):
        tok = tokens[i]
        key, eq, value = tok.value.partition("=")
        if eq and not tok.quoted and key.lower() in options:
            out[key.lower()] = _convert(options[key.lower()], value)
            i += 1
            continue
        if not tok.quoted and tok.value.lower() in flags:
            arg = flags[tok.value.lower()]
            out[arg.name] = tok.value.lower() if arg.choices else True
            i += 1
            continue
        if pos < len(positional):
            out[positional[pos].name] = _convert(positional[pos], tok.value)
            pos += 1
            i += 1
            continue
        if text_arg is None:
            if eq and not tok.quoted:
                close = difflib.get_close_matches(key.lower(), list(options), n=1)
                hint = _(" (did you mean {option}=?)", option=close[0]) if close else ""
                raise UsageError(_("unknown option {option}={hint}", option=key, hint=hint))
            raise UsageError(_("unexpected {word}", word=repr(tok.value)))
        text_start = i
        break
    if text_start is not None and text_arg is not None:
        rest = tokens[text_start:]
        # Options typed after the text (`... Odd logins share=group`) are taken when they
        # end the line and are not given already: a tired operator means nothing else.
        while len(rest) > 1 and not rest[-1].quoted:
            key, eq, value = rest[-1].value.partition("=")
            option = options.get(key.lower()) if eq else None
            if option is None or out.get(option.name) is not None:
                break
            out[option.name] = _convert(option, value)
            rest = rest[:-1]
        if len(rest) == 1 and rest[0].quoted:
            out[text_arg.name] = rest[0].value
        else:
            out[text_arg.name] = raw[rest[0].start:rest[-1].end].strip()
    for arg in cmd.args:
        if arg.required and out.get(arg.name) in (None, ""):
            what = {"option": f"{arg.name}=", "text": f"<{arg.metavar or arg.name}>"}.get(
                arg.kind, f"<{arg.metavar or arg.name}>")
            where = ""
            if arg.kind == "option" and text_arg is not None and any(
                    t.value.lower().startswith(f"{arg.name}=") for t in tokens):
                where = _(": put {name}= before the {text}", name=arg.name,
                          text=text_arg.metavar or text_arg.name)
            raise UsageError(_("missing {what}", what=what) + where
                             + (f" ({_(arg.help)})" if arg.help else ""))
    return out


def _convert(arg: Arg, value: str) -> Any:
    if arg.choices and value.lower() not in arg.choices:
        close = difflib.get_close_matches(value.lower(), arg.choices, n=1)
        hint = _(" (did you mean {word}?)", word=close[0]) if close else ""
        raise UsageError(_("{name} must be one of {choices}, not {given}{hint}",
                           name=arg.name, choices=", ".join(arg.choices), given=repr(value),
                           hint=hint))
    if arg.choices:
        return value.lower()
    if arg.kind == "int" or arg.int_range is not None:
        low, high = arg.int_range or (-(2**31), 2**31)
        digits = value.strip().lstrip("-")
        if not (digits.isascii() and digits.isdigit()) or not low <= int(value) <= high:
            raise UsageError(_("{name} must be a whole number from {low} to {high}, not "
                               "{given}", name=arg.name, low=low, high=high,
                               given=repr(value)))
        return int(value)
    return value


class Registry:
    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}
        self.summaries: dict[str, str] = {}

    def add(self, cmd: Command) -> None:
        if cmd.path in self._commands:
            raise ValueError(f"command {cmd.name!r} declared twice")
        self._commands[cmd.path] = cmd

    def group(self, name: str, summary: str) -> None:
        self.summaries[name] = summary

    @property
    def commands(self) -> list[Command]:
        return list(self._commands.values())

    def top_level(self) -> list[str]:
        names: list[str] = []
        for path in self._commands:
            if path[0] not in names:
                names.append(path[0])
        return names

    def subcommands(self, top: str) -> list[Command]:
        return [c for p, c in self._commands.items() if p[0] == top and len(p) > 1]

    def find(self, words: list[str]) -> tuple[Command | None, int]:
        """The longest declared path matching the first words, and how many it used."""
        for length in (2, 1):
            if len(words) >= length:
                cmd = self._commands.get(tuple(w.lower() for w in words[:length]))
                if cmd is not None:
                    return cmd, length
        return None, 0

    def suggest(self, word: str, within: str | None = None) -> list[str]:
        if within is None:
            pool = [*self.top_level(), "help"]
        else:
            pool = [c.path[1] for c in self.subcommands(within)] + ["help"]
        return difflib.get_close_matches(word.lower(), pool, n=3, cutoff=0.5)

    def overview(self, top: str | None = None) -> str:
        if top is None:
            lines = [_("Commands (type `<command> help` for details):")]
            for name in self.top_level():
                lines.append(f"  {name} – {_(self.summaries.get(name, ''))}")
            return "\n".join(lines)
        lines = [f"{top}: {_(self.summaries.get(top, ''))}"]
        single = self._commands.get((top,))
        if single is not None:
            lines.append(f"  {single.usage()}")
        for cmd in self.subcommands(top):
            lines.append(f"  {cmd.usage()}")
            lines.append(f"      {_(cmd.help)}")
        return "\n".join(lines)
