"""Property: over random directories and incident histories, no room outside an incident's
audience ever receives its protected content, and anonymised rooms never read the Member's
identifying names or codes."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import leaks
from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import parse_directory
from wisbot.domain.audience import lesson_seen_by
from wisbot.domain.confidentiality import Exposure, Share, Vis, role_visibility
from wisbot.services.render import redactor_for
from wisbot.settings import Settings

SHARES = [s.value for s in Share]


@st.composite
def directories(draw: Any) -> dict[str, Any]:
    n_giscs = draw(st.integers(2, 4))
    giscs = [f"Gz{i}city" for i in range(n_giscs)]
    n_members = draw(st.integers(2, 4))
    members = [{"code": f"Q{i}Z", "name": f"Memberland{i}", "aliases": [f"Agency{i}x"]}
               for i in range(n_members)]
    centres = []
    for i in range(n_members):
        for j in range(draw(st.integers(1, 2))):
            centres.append({"code": f"Q{i}Z-C{j}", "name": f"Centreville{i}{j}",
                            "member": f"Q{i}Z",
                            "principal_gisc": draw(st.sampled_from(giscs))})
    contacts = [{"id": "sec", "name": "Secretary Person", "roles": ["secretariat"]}]
    contacts += [{"id": f"g{k}", "name": f"Desk Gz{k}", "roles": [f"gisc:{g}"]}
                 for k, g in enumerate(giscs)]
    contacts += [{"id": f"m{i}", "name": f"Focal{i} Surname{i}", "roles": [f"member:Q{i}Z"]}
                 for i in range(n_members)]
    rooms = [{"key": "secretariat", "role": "secretariat", "platform": "console"},
             {"key": "collaboration", "role": "collaboration", "platform": "console"}]
    for g in giscs:
        rooms.append({"key": f"gisc-{g}", "role": f"gisc:{g}", "platform": "console"})
        if draw(st.booleans()):
            rooms.append({"key": f"area-{g}", "role": f"area:{g}", "platform": "console"})
    for i in range(n_members):
        if draw(st.booleans()):
            rooms.append({"key": f"member-{i}", "role": f"member:Q{i}Z", "platform": "console"})
    return {"members": members, "centres": centres,
            "giscs": [{"name": g} for g in giscs], "contacts": contacts, "rooms": rooms}


ops = st.lists(st.tuples(
    st.sampled_from(["report", "update", "severity", "share", "resolve", "lesson"]),
    st.integers(0, 50), st.sampled_from(SHARES), st.booleans(),
    st.sampled_from(["anonymous", "named", "none"]),
), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=directories(), history=ops)
def test_no_room_outside_the_audience_receives_protected_content(
        sqlite_template: Path, data: dict[str, Any], history: list[Any]) -> None:
    asyncio.run(_scenario(sqlite_template, data, history))


async def _scenario(template: Path, data: dict[str, Any], history: list[Any]) -> None:
    directory = parse_directory(data)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.db"
        shutil.copy(template, db)
        console = ConsoleAdapter(echo=False)
        app = App(Settings(database_url=f"sqlite:///{db}"), directory=directory,
                  clock=FakeClock(), adapters=[console], run_worker=False)
        await app.start()
        try:
            await _run(app, console, directory, history)
        finally:
            await app.stop()


async def _run(app: App, console: ConsoleAdapter, directory: Any, history: list[Any]) -> None:
    incidents: list[dict[str, Any]] = []  # number, centre, member, exposure, secret
    seen = {r.key: 0 for r in directory.rooms}
    for n, (op, pick, share, anon, lesson_share) in enumerate(history):
        lesson_check: tuple[str, str, dict[str, Any]] | None = None
        if op == "report" or not incidents:
            centre = directory.centres[pick % len(directory.centres)]
            secret = f"secretword{n}x"
            who = f"m{centre.member[1:-1]}"
            reply = await console.type(who, f"incident report {centre.code} share={share}"
                                       f"{' anonymous' if anon else ''} {secret} at "
                                       f"{centre.name} of {centre.member}")
            number = reply.ref
            assert number, reply.plain()
            incidents.append({"number": number, "member": centre.member, "secret": secret,
                              "exp": Exposure(centre.member, centre.principal_gisc,
                                              Share(share), anon), "resolved": False})
        else:
            inc = incidents[pick % len(incidents)]
            who = f"m{inc['member'][1:-1]}"
            number = inc["number"]
            if op == "update":
                await console.type(who, f"incident update {number} {inc['secret']} again")
            elif op == "severity":
                await console.type(who, f"severity {number} {pick % 6} {inc['secret']}")
            elif op == "share":
                r = await console.type(who, f"incident share {number} {share} "
                                       f"{'anonymous' if anon else 'named'}")
                if r.kind == "incident":
                    e = inc["exp"]
                    inc["exp"] = Exposure(e.member, e.principal_gisc, Share(share), anon)
            elif op == "resolve":
                r = await console.type(who, f"incident resolve {number}")
                inc["resolved"] = inc["resolved"] or r.kind == "incident"
            elif op == "lesson" and inc["resolved"]:
                word = f"lessonword{n}x"
                await console.type(who, f"lessons add {number} share={lesson_share} {word} "
                                   f"{inc['secret']}")
                lesson_check = (word, lesson_share, inc)
        await app.outbox.drain()
        for room in directory.rooms:
            new = console.rooms.get(room.target, [])[seen[room.key]:]
            seen[room.key] += len(new)
            for msg in new:
                text = render_text(msg)
                for inc in incidents:
                    if inc["secret"] not in text:
                        continue
                    vis = role_visibility(room.role, inc["exp"])
                    if lesson_check and lesson_check[0] in text:
                        vis = lesson_seen_by(room.role, lesson_check[1], inc["member"])
                    assert vis is not Vis.NONE, f"{room.key} got {inc['number']}: {text}"
                    if vis is Vis.ANONYMOUS:
                        terms = redactor_for(directory, inc["member"])._terms
                        assert leaks(text, list(terms)) == [], f"{room.key}: {text}"
