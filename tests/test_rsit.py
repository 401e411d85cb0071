"""RSIT classification: `incident classify` with did-you-mean, shown beside the severity in
words, kept in the timeline, `incident report … class=`, `incident list class=`, the annual
report counted by class, hostile input refused clearly.

The classes and types expected here are written by hand from the RSIT (ENISA working copy /
MISP taxonomy "rsit"), not read from wisbot/data/rsit.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from wisbot.adapters.console import render_text
from wisbot.domain import rsit
from wisbot.services.reports import annual_report, from_json, to_csv, to_json, to_markdown
from wisbot.store.tables import Incident

CLASSES = {
    "abusive-content": {"spam", "harmful-speech", "violence"},
    "malicious-code": {"infected-system", "c2-server", "malware-distribution",
                       "malware-configuration"},
    "information-gathering": {"scanner", "sniffing", "social-engineering"},
    "intrusion-attempts": {"ids-alert", "brute-force", "exploit"},
    "intrusions": {"privileged-account-compromise", "unprivileged-account-compromise",
                   "application-compromise", "system-compromise", "burglary"},
    "availability": {"dos", "ddos", "misconfiguration", "sabotage", "outage"},
    "information-content-security": {"unauthorised-information-access",
                                     "unauthorised-information-modification", "data-loss",
                                     "data-leak"},
    "fraud": {"unauthorised-use-of-resources", "copyright", "masquerade", "phishing"},
    "vulnerable": {"weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
                   "information-disclosure", "vulnerable-system"},
    "other": {"other", "undetermined"},
    "test": {"test"},
}


def test_the_shipped_taxonomy_is_rsit_with_its_source() -> None:
    got: dict[str, set[str]] = {}
    for t in rsit.taxonomy().values():
        got.setdefault(t.cls, set()).add(t.type)
    assert got == CLASSES
    from importlib import resources
    raw = json.loads(resources.files("wisbot.data").joinpath("rsit.json").read_text("utf-8"))
    assert "enisaeu/Reference-Security-Incident-Taxonomy-Task-Force" in raw["source"]
    assert "CC0" in raw["licence"]
    assert rsit.parse("fraud/phishing").machine_tag == 'rsit:fraud="phishing"'


@pytest.mark.parametrize(("typed", "hint"), [
    ("fraud/phising", "did you mean fraud/phishing"),
    ("phishing", "did you mean fraud/phishing"),
    ("ddos", "did you mean availability/ddos"),
    ("availabilty/ddos", "did you mean availability/ddos"),
    ("intrusions/system-compromis", "did you mean intrusions/system-compromise"),
    ("fraud", "fraud is an RSIT class: give its type too"),
    ("weather/rain", "the classes are abusive-content"),
    ("x" * 300, "give the RSIT class and type"),
    ("x" * 10_000, "text too long"),
    ("fraud/\x1b[31mphishing", "not an RSIT class/type"),
    ("javascript:alert(1)", "not an RSIT class/type"),
])
async def test_classify_with_did_you_mean_and_nothing_lost(make_app: Any, typed: str,
                                                           hint: str) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Odd mails",
                           "member-de")
    await app.outbox.drain()
    before = {k: len(v) for k, v in app.console.rooms.items()}
    r = await app.console.type("anna.weber", f"incident classify WIS-SEC-2026-1 '{typed}'",
                               "member-de")
    text = render_text(r)
    assert r.kind == "error" and hint in text, text
    assert "Traceback" not in text and "\x1b" not in text and len(text) < 2_000
    await app.outbox.drain()
    assert {k: len(v) for k, v in app.console.rooms.items()} == before
    show = render_text(await app.console.type("anna.weber", "incident show WIS-SEC-2026-1",
                                              "member-de"))
    assert "Classification (RSIT): not classified" in show


async def test_classify_shows_beside_severity_in_words_and_audits(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group anonymous "
                           "sev=3 Odd mails", "member-de")
    await app.outbox.drain()
    r = await app.console.type("gisc-offenbach", "incident classify WIS-SEC-2026-1 "
                               "Fraud/Phishing", "gisc-offenbach")
    assert r.kind != "error", render_text(r)
    await app.outbox.drain()
    for key in ("member-de", "collaboration"):  # named and anonymised rooms are told
        card = render_text(app.console.rooms[app.directory.room(key).target][-1])
        lines = card.splitlines()
        sev = next(i for i, ln in enumerate(lines) if ln.startswith("Severity: "))
        assert lines[sev + 1] == "Classification (RSIT): Fraud: phishing (fraud/phishing)"
        assert "classified" in lines[0]
    show = render_text(await app.console.type("anna.weber", "incident show WIS-SEC-2026-1",
                                              "member-de"))
    assert "GISC Offenbach focal point" in show or "classified: fraud/phishing" in show
    assert "classified: fraud/phishing (was not classified)" in show
    again = await app.console.type("anna.weber", "incident classify WIS-SEC-2026-1 "
                                   "fraud/phishing", "member-de")
    assert again.kind == "error" and "already classified" in render_text(again)
    await app.console.type("anna.weber", "incident classify WIS-SEC-2026-1 "
                           "intrusions/system-compromise", "member-de")
    show = render_text(await app.console.type("sec-desk", "incident show WIS-SEC-2026-1",
                                              "secretariat"))
    assert "classified: intrusions/system-compromise (was fraud/phishing)" in show
    assert "Anna Weber" in show  # who, in the audit trail


async def test_only_those_who_may_change_it_classify(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group anonymous "
                           "Odd mails", "member-de")
    r = await app.console.type("gisc-tokyo", "incident classify WIS-SEC-2026-1 fraud/phishing")
    # Tokyo sees it anonymised only: the refusal reads as for a missing incident.
    assert r.kind == "error" and "no incident WIS-SEC-2026-1" in render_text(r)
    r = await app.console.type("jonas.keller", "incident classify WIS-SEC-2026-1 "
                               "fraud/phishing")
    assert r.kind == "error"


async def test_report_with_class_and_list_filter(make_app: Any) -> None:
    app = await make_app()
    r = await app.console.type("anna.weber", "incident report DE-OF-NC share=group "
                               "class=fraud/phishing anonymous Phishing mails", "member-de")
    assert "Classification (RSIT): Fraud: phishing" in render_text(r)
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group "
                           "class=availability/ddos Flood", "member-de")
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Unknown",
                           "member-de")
    bad = await app.console.type("anna.weber", "incident report DE-OF-NC share=group "
                                 "class=fraud/phising Typo", "member-de")
    assert bad.kind == "error" and "did you mean fraud/phishing" in render_text(bad)

    def numbers(text: str) -> list[str]:
        return [w for ln in text.splitlines() for w in ln.split() if w.startswith("WIS-SEC")]

    fraud = render_text(await app.console.type("anna.weber", "incident list class=fraud",
                                               "member-de"))
    assert numbers(fraud) == ["WIS-SEC-2026-1"], fraud
    ddos = render_text(await app.console.type("anna.weber", "incident list all "
                                              "class=availability/ddos", "member-de"))
    assert numbers(ddos) == ["WIS-SEC-2026-2"]
    # Anonymised readers filter by class too: the class names nobody.
    tokyo = render_text(await app.console.type("gisc-tokyo", "incident list class=fraud",
                                               "area-tokyo"))
    assert numbers(tokyo) == ["WIS-SEC-2026-1"] and "DE-OF-NC" not in tokyo
    typo = await app.console.type("anna.weber", "incident list class=frad", "member-de")
    assert typo.kind == "error" and "did you mean" in render_text(typo)


async def test_annual_report_counts_incidents_by_class(make_app: Any, clock: Any) -> None:
    app = await make_app()
    for cls in ("fraud/phishing", "fraud/masquerade", "availability/ddos"):
        await app.console.type("anna.weber", f"incident report DE-OF-NC share=group "
                               f"class={cls} x", "member-de")
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group x",
                           "member-de")

    def work(session: Any) -> Any:
        assert len(session.exec(select(Incident)).all()) == 4
        return annual_report(session, 2026, clock())

    report = await app.store.tx(work)
    assert report.by_class == {"fraud": 2, "availability": 1, "unclassified": 1}
    assert "| fraud | 2 |" in to_markdown(report)
    assert "by_class,availability,1" in to_csv(report)
    assert from_json(to_json(report)).by_class == report.by_class
    # Figures published before classification existed still load.
    old = json.loads(to_json(report))
    del old["by_class"]
    assert from_json(json.dumps(old)).by_class == {}
    stats = render_text(await app.console.type("sec-desk", "incident stats", "secretariat"))
    assert "fraud: 2" in stats, stats


async def test_two_classifications_at_once_are_both_audited(make_app: Any) -> None:
    """Two focal points classify at the same moment: both land, one after the other, and
    the timeline says what each replaced."""
    import asyncio

    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=group Odd mails",
                           "member-de")
    await asyncio.gather(
        app.console.type("anna.weber", "incident classify WIS-SEC-2026-1 fraud/phishing",
                         "member-de"),
        app.console.type("gisc-offenbach", "incident classify WIS-SEC-2026-1 "
                         "intrusions/system-compromise", "gisc-offenbach"))

    def work(session: Any) -> str | None:
        inc = session.exec(select(Incident)).one()
        return inc.rsit  # type: ignore[no-any-return]

    final = await app.store.tx(work)
    show = render_text(await app.console.type("sec-desk", "incident show WIS-SEC-2026-1",
                                              "secretariat"))
    other = ({"fraud/phishing", "intrusions/system-compromise"} - {final}).pop()
    assert f"classified: {other} (was not classified)" in show, show
    assert f"classified: {final} (was {other})" in show, show
