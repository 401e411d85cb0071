"""The command layer: parsing, usage, suggestions, roles, and hostile input."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import confirmed
from wisbot.adapters.base import Invocation, RoomRef, UserRef
from wisbot.commands import build_registry
from wisbot.commands.registry import tokenize
from wisbot.errors import UsageError
from wisbot.ids import Platform

CONSOLE = Platform("console")


def test_tokenize_quotes_and_apostrophes() -> None:
    assert [t.value for t in tokenize("a 'b c' \"d e\" server's share=\"x y\"")] == \
        ["a", "b c", "d e", "server's", "share=x y"]
    with pytest.raises(UsageError, match="unclosed quote"):
        tokenize('report "oops')


async def test_free_text_is_kept_verbatim(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    text = "The operator's   PC had port=22 open; \"quoted\" bits & <tags>"
    await app.console.type("anna.weber", f"incident report DE-OF-NC share=secretariat {text}",
                           "member-de")
    shown = (await app.console.type("anna.weber", "incident show WIS-SEC-2026-1",
                                    "member-de")).plain()
    assert text in shown


async def test_missing_share_explains_the_four_levels(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    r = await app.console.type("anna.weber", "incident report DE-OF-NC sev=3 Odd logins")
    text = r.plain()
    assert r.kind == "error"
    assert "missing share=" in text
    for level in ("secretariat", "principal-gisc", "all-giscs", "group"):
        assert f"share={level}:" in text
    assert "Example: incident report" in text
    await app.outbox.drain()
    assert app.console.rooms == {}, "nothing may be reported without share="


@pytest.mark.parametrize(("command", "expected"), [
    ("incidnet list", "Did you mean incident"),
    ("incident reprot x", "Did you mean report"),
    ("incident report DE-OF-NC share=grup x", "did you mean group"),
    ("incident report DE-OF-NC share=group sev=9 x", "sev must be a whole number from 0 to 5"),
    ("incident report XX-NC share=group x", "unknown centre 'XX-NC'"),
    ("incident report DE-OF-NX share=group x", "did you mean 'DE-OF-NC'"),
    ("severity WIS-SEC-2026-1 seven", "level must be a whole number from 0 to 5"),
    ("incident show x42", "not an incident number"),
    ("incident", "incident needs a sub-command"),
    ("lessons search", "missing <words>"),
])
async def test_errors_say_why_and_what_to_type(make_app, command: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    r = await app.console.type("anna.weber", command)
    assert r.kind == "error"
    assert expected in r.plain()


async def test_help_everywhere(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    overview = (await c.type("anna.weber", "help")).plain()
    assert "incident" in overview and "severity" in overview and "lessons" in overview
    assert "incident report" in (await c.type("anna.weber", "incident help")).plain()
    usage = (await c.type("anna.weber", "incident report help")).plain()
    assert usage.startswith("Usage: incident report <centre> share=")
    assert "[sev=0..5] [anonymous] <summary>" in usage
    scale = (await c.type("anna.weber", "severity")).plain()
    for words in ("Security incident severity 0 – No current issues",
                  "Security incident severity 5 – A WIS centre is compromised"):
        assert words in scale
    assert "Consult your GISC operator" in scale


async def test_prefixes_and_text_limit(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    for prefix in ("!", "/", "//", ""):
        assert "severity scale" in (await app.console.type("anna.weber",
                                                           f"{prefix}severity")).plain()
    long = "x" * 5000
    r = await app.console.type("anna.weber", f"incident report DE-OF-NC share=group {long}")
    assert "text too long (5037 characters; the limit is 4000)" in r.plain()


async def test_unknown_identity_and_unbound_room_are_refused(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    r = await app.console.type("mallory", "incident list")
    assert "mallory is not in the wisbot directory" in r.plain()
    r = await app.console.type("anna.weber", "incident list", "random-room")
    assert "this room is not bound in the wisbot directory" in r.plain()


async def test_role_checks(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type("hiro.sato", "incident report DE-OF-NC share=group Heard rumours")
    assert "only the focal points of DE" in r.plain() and "incident query DE-OF-NC" in r.plain()
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc Phishing",
                 "member-de")
    # The Secretariat may narrow but not widen: widening needs the Member's consent.
    r = await confirmed(c, "sec-desk", "incident share WIS-SEC-2026-1 group", "secretariat")
    assert "only the focal points of the affected Member (DE) may widen" in r.plain()
    r = await confirmed(c, "gisc-offenbach", "incident share WIS-SEC-2026-1 group",
                        "gisc-offenbach")
    assert "may widen" in r.plain()
    r = await confirmed(c, "sec-desk", "incident share WIS-SEC-2026-1 secretariat", "secretariat")
    assert r.kind == "incident"
    # GISC Offenbach can no longer see it, nor update it.
    r = await c.type("gisc-offenbach", "incident update WIS-SEC-2026-1 hello", "gisc-offenbach")
    assert "no incident WIS-SEC-2026-1 that you may see" in r.plain()
    # A GISC focal point may update an incident shared with it as principal GISC, not close it.
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 principal-gisc", "member-de")
    r = await c.type("gisc-offenbach", "incident update WIS-SEC-2026-1 Blocked the sender",
                     "gisc-offenbach")
    assert r.kind == "incident"
    r = await c.type("gisc-offenbach", "incident close WIS-SEC-2026-1", "gisc-offenbach")
    assert "may close" in r.plain()
    # Only the Secretariat answers queries.
    r = await c.type("gisc-offenbach", "incident answer Q-1 no", "gisc-offenbach")
    assert "only the WMO Secretariat focal point answers queries" in r.plain()


async def test_incident_state_machine(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat Phishing")
    assert "still open" in (await c.type("anna.weber", "lessons add WIS-SEC-2026-1 x")).plain()
    assert (await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 done")).kind == "incident"
    assert "is resolved, not open" in (await c.type("anna.weber",
                                                    "incident resolve WIS-SEC-2026-1")).plain()
    assert (await c.type("anna.weber", "incident close WIS-SEC-2026-1")).kind == "incident"
    r = await c.type("anna.weber", "incident update WIS-SEC-2026-1 more")
    assert "is closed: reopen it first" in r.plain()
    assert (await c.type("anna.weber", "incident reopen WIS-SEC-2026-1 came back")).kind == \
        "incident"
    shown = (await c.type("anna.weber", "incident show WIS-SEC-2026-1")).plain()
    for kind in ("reported", "resolved", "closed", "reopened"):
        assert f"· {kind}" in shown
    assert "Anna Weber" in shown
    listed = (await c.type("anna.weber", "incident list")).plain()
    assert "WIS-SEC-2026-1 · open" in listed


async def test_severity_change_is_cascaded_in_words(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc Phishing")
    await c.type("sec-desk", "severity WIS-SEC-2026-1 5 Message switch taken over",
                 "secretariat")
    await app.outbox.drain()
    text = c.transcript("gisc-offenbach")
    assert "severity 2 → 5" in text
    assert "Security incident severity 5 – A WIS centre is compromised" in text
    assert "Consult your GISC operator; apply the corresponding operational" in text
    assert "Message switch taken over" in text


HOSTILE = st.text(alphabet=st.sampled_from(string.printable + "\"'“”‘’=\u0000\u202e😀"),
                  max_size=80)
REGISTRY = build_registry()
_APPS: dict[int, object] = {}  # one App per fixture instance, shared by the examples
WORDS = [c.name for c in REGISTRY.commands] + ["help", "", "severity WIS-SEC-2026-1"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(WORDS), tail=HOSTILE,
       who=st.sampled_from(["anna.weber", "sec-desk", "gisc-tokyo", "nobody"]),
       room=st.sampled_from([None, "secretariat", "collaboration", "nowhere"]))
async def test_fuzz_never_raises_out_of_the_dispatcher(make_app, prefix: str, tail: str,
                                                       who: str, room: str | None) -> None:  # type: ignore[no-untyped-def]
    app = _APPS.get(id(make_app))
    if app is None:
        app = _APPS[id(make_app)] = await make_app()
    inv = Invocation(platform=CONSOLE, sender=UserRef(CONSOLE, who), text=f"{prefix} {tail}",
                     room=RoomRef(CONSOLE, room) if room else None)
    reply = await app.dispatch(inv)  # type: ignore[attr-defined]
    assert reply.plain().strip()
    assert "Traceback" not in reply.plain()
    assert "Something went wrong" not in reply.plain(), reply.plain()
