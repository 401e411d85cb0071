"""A small world for the page tests, written by hand: three Members, two GISCs, a
Secretariat desk, focal points, an incident each role sees differently, lessons, pages,
a watch ticket and probe results. Forbidden words are written here, never taken from
the code under test."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import yaml
from starlette.requests import Request

from wisbot.directory import Contact, Directory, parse_directory
from wisbot.store.watch_tables import ProbeRecord, ProbeRun
from wisbot.web.app import build_web_app
from wisbot.web.pages import page_routes

DIRECTORY = """
members:
- {code: DE, name: Germany, aliases: [DWD, Deutscher Wetterdienst, Deutschland]}
- {code: CH, name: Switzerland, aliases: [MeteoSwiss, Schweiz, Zürich]}
- {code: JP, name: Japan, aliases: [JMA]}
centres:
- code: DE-OF-NC
  name: DWD National Centre
  member: DE
  principal_gisc: Offenbach
  identifiers: [EDZW, de-dwd, de.dwd]
- code: CH-NC
  name: Swiss National Centre
  member: CH
  principal_gisc: Offenbach
  identifiers: [LSSW, ch-meteoswiss]
- {code: JP-NC, name: JMA National Centre, member: JP, principal_gisc: Tokyo,
   identifiers: [RJTD]}
giscs:
- {name: Offenbach}
- {name: Tokyo}
contacts:
- {id: sec-desk, name: Secretariat desk, roles: [secretariat]}
- {id: offenbach-desk, name: Offenbach desk, roles: ["gisc:Offenbach"]}
- {id: tokyo-desk, name: Tokyo desk, roles: ["gisc:Tokyo"]}
- id: anna.weber
  name: Anna Weber
  email: anna.weber@dwd.example.de
  phone: +49 69 8062 0
  roles: ["member:DE"]
- id: jonas.keller
  name: Jonas Keller
  email: soc@meteoswiss.example.ch
  phone: +41 58 460 91 11
  roles: ["member:CH"]
- {id: hiro.sato, name: Hiro Sato, roles: ["member:JP"]}
- {id: layla.haddad, name: Layla Haddad, roles: [secretariat], language: ar}
rooms:
- {key: secretariat, role: secretariat, platform: console}
- {key: collaboration, role: collaboration, platform: console}
- {key: gisc-offenbach, role: "gisc:Offenbach", platform: console}
- {key: gisc-tokyo, role: "gisc:Tokyo", platform: console}
- {key: member-de, role: "member:DE", platform: console}
- {key: member-ch, role: "member:CH", platform: console}
- {key: member-jp, role: "member:JP", platform: console}
oncall:
  secretariat: [sec-desk]
  gisc:Offenbach: [offenbach-desk]
  gisc:Tokyo: [tokyo-desk]
"""

# What operators write, with the words that identify the Member in them.
DE_SUMMARY = ("DWDs mail relay and DWD's firewall (EDZW switch, de-dwd broker) hit; "
              "Anna Weber on +49 69 8062 0 or anna.weber@dwd.example.de; Deutschland CERT "
              "told for Deutscher Wetterdienst")
DE_LESSON = "DWD learnt: EDZW admin accounts need MFA; ask Anna Weber (+49 69 8062 0)"
CH_SUMMARY = ("MeteoSwiss's SOC (soc@meteoswiss.example.ch, +41 58 460 91 11) saw LSSW "
              "and ch-meteoswiss feeds tampered; Jonas Keller in Zürich; Schweiz notified")
CH_LESSON = "Rotate the LSSW keys quarterly (Keller's runbook, sandpiper procedure)"

# Forbidden, by hand: the DE incident is anonymised for JP and Tokyo; the CH incident
# (shared with its principal GISC only) is not theirs at all, not even its number.
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "de.dwd", "Anna", "Weber", "69 8062", "8062",
                "dwd.example", "Deutschland", "Germany", "DE-OF-NC", "Deutscher Wetterdienst"]
CH_FORBIDDEN = ["MeteoSwiss", "LSSW", "ch-meteoswiss", "Jonas", "Keller", "Zürich", "Zurich",
                "Schweiz", "Switzerland", "460 91 11", "58 460", "CH-NC", "feeds tampered",
                "sandpiper", "WIS-SEC-2026-2", "Rotate the"]
DE_WHOLLY = ["mail relay", "admin accounts need MFA", "WIS-SEC-2026-1"]
"""What a signed-out stranger must not read of the DE incident either."""


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "hand-written web fixture")


def header_login(app: Any):  # type: ignore[no-untyped-def]
    """The authenticate seam: the ``X-Test-Contact`` header names the signed-in contact
    (sign-in itself is tested with wisbot.web.auth)."""
    async def authenticate(request: Request) -> Contact | None:
        who = request.headers.get("x-test-contact")
        return None if who is None else app.directory.contact(who)
    return authenticate


def client(app: Any, who: str | None) -> httpx.AsyncClient:
    web = build_web_app(app, page_routes(), authenticate=header_login(app))
    headers = {"x-test-contact": who} if who else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web),
                             base_url="http://wisbot.test", headers=headers)


async def world(app: Any) -> None:
    """DE: share=group anonymous, severity 4 (paged), confirmed wording, a lesson for
    everyone anonymised. CH: share=principal-gisc, severity 3 (paged), a lesson kept for
    the Member and the Secretariat (share=none). A watch ticket, a roster, probe results."""
    c = app.console
    r = await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous sev=4 "
                     f"{DE_SUMMARY}", "member-de")
    assert r.kind == "incident", r.plain()
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 fixed", "member-de")
    r = await c.type("anna.weber", f"lessons add WIS-SEC-2026-1 share=anonymous {DE_LESSON}",
                     "member-de")
    assert "Lesson L-1 recorded" in (r.title or ""), r.plain()
    await c.type("anna.weber", "incident reopen WIS-SEC-2026-1 again", "member-de")
    r = await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    assert "confirmed" in r.plain(), r.plain()
    r = await c.type("jonas.keller", f"incident report CH-NC share=principal-gisc sev=3 "
                     f"{CH_SUMMARY}", "member-ch")
    assert r.kind == "incident", r.plain()
    await c.type("jonas.keller", "incident resolve WIS-SEC-2026-2 fixed", "member-ch")
    r = await c.type("jonas.keller", f"lessons add WIS-SEC-2026-2 share=none {CH_LESSON}",
                     "member-ch")
    if "confirm" in (r.title or ""):
        r = await c.type("jonas.keller", f"lessons confirm {r.title.split(' – ')[0]}",
                         "member-ch")
    assert "L-2" in r.plain(), r.plain()
    await c.type("jonas.keller", "incident reopen WIS-SEC-2026-2 again", "member-ch")
    await app.paging.tick()
    await app.outbox.drain()
    r = await c.type("sec-desk", "watch ticket add Offenbach SRU search times out since 06:00 "
                     "impact=high", "secretariat")
    assert "#1" in r.plain(), r.plain()
    r = await c.type("sec-desk", "watch roster set 2026-02-23 2026-03-08 Tokyo", "secretariat")
    assert r.kind != "error", r.plain()
    now = app.clock()

    def probes(session: Any) -> None:
        for back in range(39, -1, -3):
            at = now - timedelta(days=back)
            run = ProbeRun(day=at.date(), trigger="daily", started_at=at, finished_at=at)
            session.add(run)
            session.flush()
            for centre, service, status in (("Offenbach", "sru", "fail" if back < 9 else "ok"),
                                            ("Offenbach", "oaipmh", "ok"),
                                            ("Tokyo", "oaipmh", "degraded" if back == 3
                                             else "ok"),
                                            ("Global Broker", "broker", "ok")):
                session.add(ProbeRecord(run_id=run.id, centre=centre, service=service,
                                        url=f"https://{centre.lower()}.example/{service}",
                                        status=status, checked_at=at))
    await app.store.tx(probes)


async def page_ids(app: Any, number: str, status: str | None = "open") -> list[str]:
    """The pages about an incident (``P-n``), open ones by default."""
    from sqlmodel import col, select

    from wisbot.store.paging_tables import Page
    from wisbot.store.tables import Incident

    def work(session: Any) -> list[str]:
        inc = session.exec(select(Incident).where(Incident.number == number)).one()
        return [f"P-{p.id}" for p in session.exec(select(Page).where(
            Page.incident_id == inc.id, col(Page.status) == (status or col(Page.status)))
            .order_by(col(Page.id)))]
    result: list[str] = await app.store.tx(work)
    return result


def days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12)
