"""Property: over random directories and incident histories, no room outside an incident's
audience ever receives its protected content, and anonymised rooms never read the Member's
identifying names or codes."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import confirmed, leaks
from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import parse_directory
from wisbot.domain import audience
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
                r = await confirmed(console, who, f"incident share {number} {share} "
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


# ===== every surface, every person, at every moment =====================================
#
# The forbidden words of Member i are written here by hand (the strategy below puts them
# in the directory; the checker never asks the Redactor what they are).

def forbidden(i: int) -> list[str]:
    return [f"Q{i}Z", f"Memberland{i}", f"Agency{i}x", f"Centreville{i}", f"X{i}0QW",
            f"X{i}1QW", f"q{i}0-wxs", f"q{i}1-wxs", f"Focal{i}", f"Surname{i}",
            f"agency{i}x.example", f"69 555 {i}{i}{i}"]


def written(i: int, j: int) -> str:
    """What a Member's operator writes about its own centre: plurals, possessives,
    identifiers, people, e-mails, phone numbers."""
    return (f"Agency{i}x's relay and Agency{i}xs VPN at Centreville{i}{j} (X{i}{j}QW, "
            f"q{i}{j}-wxs); Focal{i} Surname{i} on +4{i} 69 555 {i}{i}{i} or "
            f"focal{i}@agency{i}x.example; Memberland{i}’s CERT; Q{i}Z-C{j}")


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    n_giscs = draw(st.integers(2, 3))
    giscs = [f"Gz{k}city" for k in range(n_giscs)]
    n_members = draw(st.integers(2, 3))
    members = [{"code": f"Q{i}Z", "name": f"Memberland{i}", "aliases": [f"Agency{i}x"]}
               for i in range(n_members)]
    centres = []
    for i in range(n_members):
        for j in range(draw(st.integers(1, 2))):
            centres.append({"code": f"Q{i}Z-C{j}", "name": f"Centreville{i}{j}",
                            "member": f"Q{i}Z", "principal_gisc": draw(st.sampled_from(giscs)),
                            "identifiers": [f"X{i}{j}QW", f"q{i}{j}-wxs"]})
    contacts = [{"id": "sec", "name": "Secretary Person", "roles": ["secretariat"]}]
    contacts += [{"id": f"g{k}", "name": f"Desk Gz{k}", "roles": [f"gisc:{g}"]}
                 for k, g in enumerate(giscs)]
    contacts += [{"id": f"m{i}", "name": f"Focal{i} Surname{i}", "roles": [f"member:Q{i}Z"],
                  "email": f"focal{i}@agency{i}x.example", "phone": f"+4{i} 69 555 {i}{i}{i}"}
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
    return {"members": members, "centres": centres, "giscs": [{"name": g} for g in giscs],
            "contacts": contacts, "rooms": rooms}


def with_oncall(data: dict[str, Any]) -> dict[str, Any]:
    """Every GISC role and the Secretariat is paged, to whoever holds the role now."""
    oncall: dict[str, list[str]] = {}
    for c in data["contacts"]:
        for role in c["roles"]:
            if role.startswith("gisc:") or role == "secretariat":
                oncall.setdefault(role, []).append(c["id"])
    return {**data, "oncall": oncall}


steps = st.lists(st.tuples(
    st.sampled_from(["report", "report", "update", "severity", "share", "share", "resolve",
                     "lesson", "ask", "ask", "tick", "restart"]),
    st.integers(0, 60), st.sampled_from(SHARES), st.booleans(),
    st.sampled_from(["anonymous", "named", "none"]),
), min_size=2, max_size=10)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=worlds(), history=steps)
def test_no_person_reads_on_any_surface_what_the_predicate_denies_them(
        sqlite_template: Path, data: dict[str, Any], history: list[Any]) -> None:
    """Random directories, incident histories, share changes, restarts with membership
    changes (a focal point moves to another Member or GISC): in every room post, direct
    message (pages), reply (show, list, lessons, evidence) and stats, each person reads no
    more than ``audience`` allows them at that moment."""
    asyncio.run(World(sqlite_template, data).run(history))


class World:
    def __init__(self, template: Path, data: dict[str, Any]) -> None:
        self.template = template
        self.data = with_oncall(data)
        self.incidents: list[dict[str, Any]] = []
        self.lessons: list[dict[str, Any]] = []

    # ----- the predicate's view of one text, for one reader ------------------------------
    def check(self, text: str, where: str, allow_incident: Any, allow_lesson: Any,
              *, typed: str = "") -> None:
        flat = _squash(text)
        named_ok: set[str] = set()
        if "no longer shared with this room" in text:
            # the number a room already read, and no more (after the TLP label)
            typed += re.findall(r"WIS-SEC-\d+-\d+", text)[0]
        for inc in self.incidents:
            shown = inc["secret"] in text or (
                re.search(rf"{re.escape(inc['number'])}(?!\d)", text) is not None
                and inc["number"] not in typed)
            if not shown:
                continue
            vis = allow_incident(inc["exp"])
            assert vis is not Vis.NONE, f"{where} read {inc['number']}: {text}"
            if vis is Vis.NAMED:
                named_ok.add(inc["member"])
        for lesson in self.lessons:
            if lesson["word"] not in text:
                continue
            vis = allow_lesson(lesson["share"], lesson["member"])
            assert vis is not Vis.NONE, f"{where} read lesson {lesson['word']}: {text}"
            if vis is Vis.NAMED:
                named_ok.add(lesson["member"])
        # A focal point moved to another Member (a restart's directory edit) is that
        # Member's person now: where that Member is read named, its name tells nothing more.
        moved_here = {w for c in self.data["contacts"] if c["id"].startswith("m")
                      and any(r.removeprefix("member:") in named_ok for r in c["roles"])
                      for w in c["name"].split()}
        for i in range(len(self.data["members"])):
            if f"Q{i}Z" in named_ok:
                continue
            leaked = [w for w in forbidden(i) if _squash(w) in flat and w not in typed
                      and w not in moved_here]
            assert leaked == [], f"{where} read {leaked} of Q{i}Z: {text}"

    async def run(self, history: list[Any]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "w.db"
            shutil.copy(self.template, db)
            self.url = f"sqlite:///{db}"
            self.clock = FakeClock()
            await self.start()
            try:
                for n, step in enumerate(history):
                    await self.step(n, *step)
            finally:
                await self.app.stop()

    async def start(self) -> None:
        self.directory = parse_directory(self.data)
        self.console = ConsoleAdapter(echo=False)
        self.app = App(Settings(database_url=self.url), directory=self.directory,
                       clock=self.clock, adapters=[self.console], run_worker=False)
        await self.app.start()
        self.seen_rooms = {r.key: 0 for r in self.directory.rooms}
        self.seen_direct: dict[str, int] = {}

    def contact(self, cid: str) -> Any:
        return self.directory.contact(cid)

    def reporter(self, member: str) -> tuple[str, str | None]:
        holders = [c.id for c in self.directory.contacts_of_member(member)]
        return (holders[0], None) if holders else ("sec", "secretariat")

    async def step(self, n: int, op: str, pick: int, share: str, anon: bool,
                   lesson_share: str) -> None:
        c = self.console
        if op == "report" or not self.incidents:
            centre = self.directory.centres[pick % len(self.directory.centres)]
            i, j = int(centre.member[1:-1]), int(centre.code[-1])
            who, where = self.reporter(centre.member)
            secret = f"secretword{n}x"
            r = await c.type(who, f"incident report {centre.code} share={share}"
                             f"{' anonymous' if anon else ''} sev={pick % 6} {secret} "
                             f"{written(i, j)}", where)
            if r.ref:
                self.incidents.append({
                    "number": r.ref, "member": centre.member, "secret": secret, "i": i,
                    "j": j, "exp": Exposure(centre.member, centre.principal_gisc, Share(share),
                                            anon), "resolved": False})
        elif op == "tick":
            self.clock.advance(minutes=16)
        elif op == "restart":
            await self.app.outbox.drain()
            await self.read_everything()
            await self.app.stop()
            self.move_someone(pick)
            await self.start()
        elif op == "ask":
            await self.ask(pick)
        else:
            inc = self.incidents[pick % len(self.incidents)]
            who, where = self.reporter(inc["member"])
            number = inc["number"]
            text = written(inc["i"], inc["j"])
            if op == "update":
                await c.type(who, f"incident update {number} {inc['secret']} {text}", where)
            elif op == "severity":
                await c.type(who, f"severity {number} {pick % 6} {inc['secret']} {text}", where)
            elif op == "share" and where is None:
                r = await confirmed(c, who, f"incident share {number} {share} "
                                    f"{'anonymous' if anon else 'named'}")
                if r.kind == "incident":
                    e = inc["exp"]
                    inc["exp"] = Exposure(e.member, e.principal_gisc, Share(share), anon)
            elif op == "resolve":
                r = await c.type(who, f"incident resolve {number}", where)
                inc["resolved"] = inc["resolved"] or r.kind == "incident"
            elif op == "lesson" and inc["resolved"]:
                word = f"lessonword{n}x"
                ls = lesson_share if where is None else "anonymous"
                r = await c.type(who, f"lessons add {number} share={ls} {word} {text}", where)
                if "recorded" in r.plain():
                    self.lessons.append({"word": word, "share": ls, "member": inc["member"]})
        await self.app.paging.tick()
        await self.app.outbox.drain()
        await self.read_everything()

    def move_someone(self, pick: int) -> None:
        """A membership change, as a directory edit takes effect at a restart."""
        contacts = [dict(c) for c in self.data["contacts"]]
        movable = [k for k, c in enumerate(contacts) if c["id"] != "sec"]
        k = movable[pick % len(movable)]
        role = contacts[k]["roles"][0]
        kind = role.split(":")[0]
        if kind == "gisc":
            names = [g["name"] for g in self.data["giscs"]]
            new = names[(names.index(role.split(":")[1]) + 1) % len(names)]
            contacts[k]["roles"] = [f"gisc:{new}"]
        else:
            codes = [m["code"] for m in self.data["members"]]
            new = codes[(codes.index(role.split(":")[1]) + 1) % len(codes)]
            contacts[k]["roles"] = [f"member:{new}"]
        self.data = with_oncall({**self.data, "contacts": contacts})

    async def ask(self, pick: int) -> None:
        contacts = self.directory.contacts
        person = contacts[pick % len(contacts)]
        places: list[Any] = [None, *(r for r in self.directory.rooms
                                     if audience.may_sit_in(self.directory, person, r.role))]
        room = places[pick % len(places)]
        number = self.incidents[pick % len(self.incidents)]["number"] if self.incidents \
            else "WIS-SEC-2026-1"
        command = ["incident list all", f"incident show {number}", "lessons list",
                   f"incident evidence {number}"][pick % 4]
        role = room.role if room else None
        for typed in (command, "incident stats"):
            reply = await self.console.type(person.id, typed, room.key if room else None)
            text = render_text(reply)
            self.check(text, f"{person.id} in {room.key if room else 'direct'}: {typed}",
                       lambda exp: audience.reader_sees(self.directory, person, role, exp),
                       lambda share, member: audience.lesson_reader_sees(
                           audience.person_roles(self.directory, person), role, share,
                           member),
                       typed=typed)
        # A count moves only with incidents this person may see here (the Secretariat,
        # in its room or alone, sees them all).
        count = sum(1 for inc in self.incidents
                    if audience.reader_sees(self.directory, person, role,
                                            inc["exp"]) is not Vis.NONE)
        assert f"Incidents: {count}\n" in text + "\n", f"{person.id} {role}: {text}"

    async def read_everything(self) -> None:
        d = self.directory
        for room in d.rooms:
            new = self.console.rooms.get(room.target, [])[self.seen_rooms[room.key]:]
            self.seen_rooms[room.key] += len(new)
            readers = [p for p in d.contacts if audience.may_sit_in(d, p, room.role)]
            for msg in new:
                text = render_text(msg)
                # What the room may read, and no more than anyone sitting in it may.
                self.check(text, f"room {room.key}",
                           lambda exp, r=room.role: audience.room_sees(r, exp),
                           lambda share, member, r=room.role: audience.lesson_seen_by(
                               r, share, member))
                for p in readers:
                    self.check(text, f"{p.id} in {room.key}",
                               lambda exp, p=p: audience.person_sees(d, p, exp),
                               lambda share, member, p=p: audience.lesson_reader_sees(
                                   audience.person_roles(d, p), None, share, member))
        for cid, msgs in self.console.direct.items():
            start = self.seen_direct.get(cid, 0)
            self.seen_direct[cid] = len(msgs)
            person = d.contact(cid)
            for msg in msgs[start:]:
                self.check(render_text(msg), f"direct to {cid}",
                           lambda exp, p=person: audience.person_sees(d, p, exp),
                           lambda share, member, p=person: audience.lesson_reader_sees(
                               audience.person_roles(d, p), None, share, member))


def _squash(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())
