"""The pseudo-locale through audits, the known-error database, incident models and their
checklists: every reply, refusal, notice and reminder wisbot writes there, in every room
and to every person. Any English word outside ⟦…⟧ escaped the catalogs and fails.

What may stay unmarked beyond tests/i18n/test_pseudo_rest.py's list is written by hand
below (never derived from the code): audit ids, the example directory's people and
centres, WMO Region numerals, the test's own known error and models file, the shipped
models' keys, RSIT class/type names, usage lines (command words), a person's typed
values in quotes, and a file path. A real language reads its own words: a French room,
a Chinese person's reminder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.audit_fixture import audit_data, audit_directory
from tests.conftest import EXAMPLE
from tests.helpers import room_text
from tests.i18n.test_pseudo_rest import everything, problems
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.directory import parse_directory

WED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

MINE = [
    r"\bAUD-\d+\b", r"\bK-\d+\b",
    # The example directory's people, centres and Members (hand-copied).
    "Ines Duarte", "Kofi Mensah", "Anna Weber", "Maria Rossi", "Hiro Sato", "Raj Iyer",
    r"\b(ines\.duarte|kofi\.mensah|lena\.huber|raj\.iyer)\b",
    "DWD National Centre Offenbach", r"\bDE-OF-NC\b", r"\bDE\b", r"\bCH\b", r"\bJP\b",
    # WMO Regions are numbered I to VI.
    r"\b(III|II|IV|VI|V)\b",
    # Usage lines: the command's words, then (translated) what it does.
    r"(?m)^\s*(audit|kedb|models|incident check|incident report) [^⟦\n]*",
    r"<[^>]*>", r"'[^']*'", r"\b[a-z]+=", r"(?<!\w)/[\w./-]+",  # typed values, options, paths
    # RSIT class/type names and the shipped models' keys (never translated).
    r"\b[a-z-]+/[a-z-]+\b", r"\bnone\b", r"Malicious code: infected system", r"Availability: dos",
    r"\b(phishing|compromised-credentials|ransomware|ddos-gisc-portal|"
    r"spoofed-gts-bulletins|wis2-broker-account|gts-link-flood)\b",
    # This test's models file (data, the Secretariat's words) and known error.
    "Flood of bulletins on a GTS link", "The link's queue grows until real bulletins are late.",
    r"models\[\d+\]", r"\bRansomware\b", "Relay passes phishing",
    # test_kedb's K2: its title as typed, and as an anonymised reader reads it.
    r"(DWD|\[withheld\]) mail relay at (EDZW|\[withheld\])",
]

from tests.test_incident_models import EXTRA as MODELS  # noqa: E402


@pytest.fixture(autouse=True)
def english_default() -> Any:
    yield
    i18n.set_default("en")


def leftovers(replies: list[Any]) -> list[tuple[list[str], str]]:
    return problems(replies, MINE)


async def test_pseudo_locale_audit_four_phases_reminders_report_evidence(
        make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE), audit_holidays="2026-12-08")
    i18n.set_default("qps")
    c = app.console
    svc = app.services.extra["audits"]
    said: list[Any] = []

    async def say(who: str, line: str, room: str | None = None) -> Any:
        reply = await c.type(who, line, room)
        said.append(reply)
        return reply

    await say("anna.weber", "audit")  # no verb: the usage
    await say("anna.weber", "audit frobnicate AUD-1")
    await say("anna.weber", "audit request DE-OF-NC 中心自我评估问卷")  # not in English
    await say("hiro.sato", "audit request DE-OF-NC https://example.org/sa.pdf")
    await say("anna.weber", "audit request DE-OF-NC remote reaudit=99 https://x.example/sa")
    await say("anna.weber", "audit request DE-OF-NC remote "
              "https://example.org/de-of-nc-self-assessment.pdf", "member-de")
    await say("claire.martin", "audit request ECMWF-DCPC https://example.org/sa.pdf")
    # The team: every rule refused, then a good team.
    await say("sec-maria", "audit team AUD-1 lead=lena.huber expert=kofi.mensah")
    await say("sec-maria", "audit team AUD-1 lead=raj.iyer expert=kofi.mensah")
    await say("sec-maria", "audit team AUD-1 lead=ines.duarte expert=ines.duarte")
    await say("anna.weber", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah")
    await say("sec-maria", "audit assess AUD-1")  # no team yet
    await say("sec-maria", "audit team AUD-1 lead=ines.duarte expert=kofi.mensah "
              "members=raj.iyer")
    # Phase 2.
    await say("kofi.mensah", "audit assess AUD-1")  # not the lead
    await say("ines.duarte", "audit assess AUD-1")
    await say("ines.duarte", "audit ask AUD-1 Send the restore test records of 2026")
    await say("anna.weber", "audit answer AUD-1 Records attached", "member-de")
    await say("ines.duarte", "audit stop AUD-1")
    await say("ines.duarte", "audit stop AUD-1 No evidence of an alternate site")
    await say("ines.duarte", "audit assess AUD-1")
    await say("ines.duarte", "audit satisfied AUD-1")
    # Phase 3.
    await say("ines.duarte", "audit schedule AUD-1 2026-12-05")  # a Saturday
    await say("ines.duarte", "audit schedule AUD-1 tomorrow")
    await say("ines.duarte", "audit schedule AUD-1 2026-12-03")
    await say("ines.duarte", "audit meeting AUD-1 closing")  # opening first
    await say("ines.duarte", "audit meeting AUD-1 lunch")
    clock.now = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    await say("ines.duarte", "audit meeting AUD-1 opening")
    await say("ines.duarte", "audit meeting AUD-1 opening")
    await say("ines.duarte", "audit schedule AUD-1 2026-12-10")  # begun
    clock.now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    await say("ines.duarte", "audit meeting AUD-1 closing")
    # Reminders: due, then late (the lead directly, the Secretariat's room).
    clock.now = datetime(2026, 12, 11, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    clock.now = datetime(2026, 12, 15, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    # Phase 4: the report, its refusals, the evidence.
    await say("ines.duarte", "audit report AUD-1 outcome=conditions Findings")
    await say("ines.duarte", "audit report AUD-1 outcome=passed Findings")
    await say("ines.duarte", 'audit report AUD-1 outcome=compliant conditions="a" Findings')
    await say("ines.duarte", "audit evidence AUD-1 destroyed")  # before handing
    await say("ines.duarte", "audit evidence AUD-1 lost")
    await say("ines.duarte", 'audit report AUD-1 outcome=conditions conditions="replace '
              'the expired certificate; quarterly restore tests" Strengths: 24/7 desk.')
    await say("ines.duarte", "audit evidence AUD-1 handed")
    await say("ines.duarte", "audit show AUD-1")
    await say("ines.duarte", "audit evidence AUD-1 destroyed")
    await say("anna.weber", "audit show AUD-1", "member-de")
    await say("sec-maria", "audit list", "secretariat")
    await say("hiro.sato", "audit list")
    await say("hiro.sato", "audit show AUD-1")
    # The rolling re-audit reminder.
    clock.now = datetime(2030, 9, 20, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    await app.outbox.drain()
    titles = " ".join(r.title or "" for r in everything(app))
    assert titles.count("AUD-1") >= 6, titles
    assert any("AUD-1" in (r.title or "") for r in c.direct["ines.duarte"])
    left = leftovers(said + everything(app))
    assert not left, left[:5]


async def test_pseudo_locale_kedb_and_the_suggestion_to_the_reporter(make_app: Any) -> None:
    from tests.test_kedb import K2, directory

    app = await make_app(directory())
    i18n.set_default("qps")
    c = app.console
    n = f"WIS-SEC-{app.clock().year}-1"
    said = [await c.type("anna.weber", K2, "member-de"),
            await c.type("anna.weber", 'kedb add "Relay passes phishing" "relay passes '
                         'phishing" Block it', "member-de"),
            await c.type("anna.weber", 'kedb add share=wide "t" "s" w', "member-de"),
            await c.type("anna.weber", 'kedb add "t" "s"', "member-de"),
            await c.type("hiro.sato", 'kedb add member=DE "t" "s" w')]
    report = await c.type("anna.weber", "incident report DE-OF-NC share=secretariat "
                          "phishing mails reach operators through the relay", "member-de")
    assert "K-" in render_text(report), render_text(report)
    said.append(report)
    said += [await c.type("anna.weber", f"kedb link K-1 {n}", "member-de"),
             await c.type("anna.weber", f"kedb link K-1 {n}", "member-de"),
             await c.type("anna.weber", "kedb link K-1 L-9", "member-de"),
             await c.type("hiro.sato", f"kedb link K-1 {n}"),
             await c.type("anna.weber", "kedb show K-1", "member-de"),
             await c.type("hiro.sato", "kedb show K-1"),
             await c.type("hiro.sato", "kedb show K-9"),
             await c.type("hiro.sato", "kedb show nine"),
             await c.type("anna.weber", "kedb list", "member-de"),
             await c.type("jonas.keller", "kedb list", "member-ch"),
             await c.type("hiro.sato", "kedb search relay"),
             await c.type("hiro.sato", "kedb search zzz")]
    # The suggestion is the reporter's (wisbot's words marked); the report's card is the
    # incident's own.
    suggestion = render_text(report).partition("⟦Known errors that may match")[2]
    assert "K-1" in suggestion or "K-2" in suggestion, render_text(report)
    left = leftovers(said)
    assert not left, left[:5]


async def test_pseudo_locale_model_checklist_and_models_reload_with_an_error(
        make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(MODELS, encoding="utf-8")
    app = await make_app(incident_models=path)
    i18n.set_default("qps")
    c = app.console
    n = f"WIS-SEC-{app.clock().year}-1"
    said = [await c.type("sec-maria", "models"),
            await c.type("sec-maria", "models gts-link-flood"),
            await c.type("sec-maria", "models phish")]
    report = await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=2 "
                          "model=gts-link-flood Link flooded", "member-de")
    assert "☐ 2." in render_text(report), render_text(report)
    said += [report,
             await c.type("anna.weber", f"incident check {n} 1", "member-de"),
             await c.type("anna.weber", f"incident check {n} 1", "member-de"),
             await c.type("anna.weber", f"incident check {n} 5", "member-de"),
             await c.type("anna.weber", f"incident check {n}", "member-de")]
    # A broken models file: refused whole, every problem in the reader's language.
    path.write_text(MODELS.replace("severity: 3", "severity: high").replace(
        "class:", "clas:") + "- just a string\n", encoding="utf-8")
    broken = await c.type("sec-maria", "wisbot reload")
    assert broken.kind == "error" and "models[0]" in render_text(broken), render_text(broken)
    path.write_text("models: [unclosed\n", encoding="utf-8")
    said += [broken, await c.type("sec-maria", "wisbot reload")]
    path.write_text(MODELS + MODELS.replace("gts-link-flood", "second-one")
                    .replace("models:\n", ""), encoding="utf-8")
    fixed = await c.type("sec-maria", "wisbot reload")
    assert "second-one" in render_text(fixed), render_text(fixed)
    said.append(fixed)
    # The checklist items and titles are data: shown as the models file wrote them.
    left = leftovers(said)
    left = [(w, t) for w, t in left if set(w) - set(
        "Find the originating heading Ask sending centre to stop it second one".split())]
    assert not left, left[:5]


async def test_a_french_room_and_a_chinese_auditor_read_their_language(
        make_app: Any, clock: Any) -> None:
    clock.now = WED
    data = audit_data(EXAMPLE)
    for room in data["rooms"]:
        if room["key"] == "secretariat":
            room["language"] = "fr"
    app = await make_app(parse_directory(yaml.safe_load(yaml.safe_dump(data)), "fr room"))
    c = app.console
    svc = app.services.extra["audits"]
    await c.type("ines.duarte", "language zh")
    await c.type("anna.weber", "audit request DE-OF-NC remote https://example.org/sa.pdf",
                 "member-de")
    shown = render_text(await c.type("sec-maria", "audit team AUD-1 lead=ines.duarte "
                                     "expert=kofi.mensah", "secretariat"))
    assert "Équipe d’audit désignée" in shown and "Ines Duarte (auditeur principal)" in shown, shown
    for step in ("assess AUD-1", "satisfied AUD-1", "schedule AUD-1 2026-12-03"):
        await c.type("ines.duarte", f"audit {step}")
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 opening")
    clock.now = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    await c.type("ines.duarte", "audit meeting AUD-1 closing")
    clock.now = datetime(2026, 12, 10, 7, 0, tzinfo=UTC)
    assert await svc.remind() == 1
    await app.outbox.drain()
    room = room_text(app, "secretariat")
    assert "audit demandé" in room and "Audit à distance de" in room, room
    assert "Le rapport post-audit est attendu : échéance le 2026-12-11." in room, room
    assert "requested" not in room and "post-audit report is due" not in room, room
    mine = "\n".join(render_text(r) for r in c.direct["ines.duarte"])
    assert "审计后报告提醒" in mine and "审计后报告即将到期：截止 2026-12-11。" in mine, mine
    # The Member's room (English) read the same notices in English.
    de = room_text(app, "member-de")
    assert "audit scheduled" in de and "remote audit on 2026-12-03" in de, de
    # A refusal in the French room, in French.
    refused = render_text(await c.type("sec-maria", "audit satisfied AUD-1", "secretariat"))
    assert "AUD-1 est en phase 4 rapport post-audit ; il faut la phase 2 évaluation " \
        "préalable à l’audit ou 2 pré-audit" in refused, refused
    # A checklist in the French room: the command as code where French puts it.
    year = app.clock().year
    checklist = render_text(await c.type("sec-maria", "incident report DE-OF-NC "
                                         "share=secretariat model=phishing Mails",
                                         "secretariat"))
    assert f"Liste de contrôle (cochez avec incident check WIS-SEC-{year}-1 <n>) :" \
        in checklist, checklist
    assert "Modèle d’incident : " in checklist, checklist
