"""Every command, typed wrong, in the pseudo-locale: the refusal, usage and did-you-mean
wisbot writes are all from the catalogs. Each command is typed with no arguments, with
arguments that name nothing, and with a misspelt word, by the Secretariat in its room,
by a Member's focal point in its room and by the same person in a direct chat.

What may stay unmarked (names, codes, command words) is the hand-written KEPT list of
test_pseudo_rest plus the words below."""

from __future__ import annotations

import os
from typing import Any

import pytest

import tests.i18n.test_pseudo_rest as rest
from tests.i18n.test_pseudo_rest import problems
from wisbot import i18n

# Choice words of a usage (`  open: …`, `share=none|anonymous`), Member codes, the probe
# targets' host names: command words and names, never translated.
KEPT = [r"\b(member|gisc|area):[\w-]+", r"(?m)^\s+[a-z][\w-]*(=[\w-]+)?:",
        r"\b[a-z]+=[\w|.<>-]+",
        r"<[\w|-]+>", r"\bnosuchthing\b", r"\bzzz\b",
        # The shipped incident models are data: key – title · RSIT class/type.
        r"(?m)^[a-z0-9-]+ – .*$", r"`[^`\n]*`",
        # Command lines of a usage.
        r"(?m)^\s*(audit|drill|continuity|change|kedb|exchange|models)\b[^\n⟦]*",
        # Job ids, the example directory's people and GISCs, probe service keys.
        r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b", "Jonas Keller", "Claire Martin",
        r"\bportal\b"]
LAST = [r"\b[A-Z]{2}\b",
        r"\b(Beijing|Brasilia|Casablanca|Exeter|Jeddah|Melbourne|Moscow|New Delhi|Offenbach"
        r"|Pretoria|Seoul|Tehran|Tokyo|Toulouse|Washington|Delhi)\b"]
"""Applied after the shared list (which names whole phrases such as a desk's name)."""

# What the commands are typed with: nothing that exists.
BAD_ARGS = ["", "WIS-SEC-1999-99", "nosuchthing 7 zzz=1", "P-999", "HO-999", "L-999",
            "KE-XX sev=9 share=nobody text"]
WHO = [("sec-desk", "secretariat"), ("anna.weber", "member-de"), ("anna.weber", None)]


@pytest.fixture(autouse=True)
def english_default() -> Any:
    yield
    i18n.set_default("en")


async def test_every_command_typed_wrong_reads_in_the_catalogs(make_app: Any,
                                                              monkeypatch: Any) -> None:
    monkeypatch.setattr(rest, "KEPT", [*KEPT, *rest.KEPT, *LAST])
    app = await make_app()
    i18n.set_default("qps")
    c = app.console
    replies = []
    for cmd in app.registry.commands:
        for args in BAD_ARGS:
            for who, room in WHO:
                replies.append(await c.type(who, f"{cmd.name} {args}".strip(), room))
    for typo in ["incidnet list", "lesons search x", "wach", "severty", "hlep"]:
        replies.append(await c.type("sec-desk", typo, "secretariat"))
    await app.outbox.drain()
    left = problems(replies)
    if left and os.environ.get("WISBOT_I18N_SHOW"):
        for words, text in left:
            print(words, "\n", text, "\n")
    assert not left, f"{len(left)} replies with English: {left[:3]}"
