"""Incident models (issue 17 item 2): shipped as data, added to by the Secretariat's own
file (validated with every problem named, reloaded with `wisbot reload`), used by
`incident report … model=`; the checklist is ticked in the timeline. Through the console,
on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_kedb import DE_FORBIDDEN, directory, found, ok, text
from wisbot.domain import rsit
from wisbot.domain.incident_models import load_models, parse_models
from wisbot.errors import DirectoryError

EXTRA = """
models:
- key: gts-link-flood
  title: Flood of bulletins on a GTS link
  class: availability/dos
  severity: 3
  why: The link's queue grows until real bulletins are late.
  checklist:
  - Find the originating heading
  - Ask the sending centre to stop it
"""


def test_the_shipped_models_are_valid_and_name_the_types_centres_meet() -> None:
    models = load_models(None)
    assert {"phishing", "compromised-credentials", "ransomware", "ddos-gisc-portal",
            "spoofed-gts-bulletins", "wis2-broker-account"} <= set(models)
    for m in models.values():
        assert rsit.lookup(m.rsit) is not None and 0 <= m.severity <= 5 and m.checklist
    assert models["phishing"].rsit == "fraud/phishing"
    assert models["ddos-gisc-portal"].rsit == "availability/ddos"


def test_every_problem_of_a_file_is_named_with_its_entry() -> None:
    bad = """
models:
- key: Bad Key
  title: ""
  class: fraud/phising
  severity: 9
  why: x
  checklist: []
  colour: red
- key: ok-one
  title: t
  class: fraud/phishing
  severity: true
  why: w
  checklist: [a, 7]
- key: twice
  title: t
  class: availability/ddos
  severity: 1
  why: w
  checklist: [a]
- key: twice
  title: t
  class: availability/ddos
  severity: 1
  why: w
  checklist: [a]
- just a string
- {key: short}
"""
    with pytest.raises(DirectoryError) as exc:
        parse_models(bad, "models.yaml")
    problems = "\n".join(exc.value.problems)
    for words in ("models[0] (Bad Key): key 'Bad Key' must be lowercase",
                  "models[0] (Bad Key): title must be text",
                  "class 'fraud/phising' is not an RSIT class/type (nearest: fraud/phishing",
                  "severity must be a whole number from 0 to 5, not 9",
                  "checklist must be a list of 1 to 12 items",
                  "unknown field 'colour'",
                  "models[1] (ok-one): severity must be a whole number from 0 to 5, not True",
                  "models[1] (ok-one): checklist item 2 must be text",
                  "models[3] (twice): key 'twice' is used twice",
                  "models[4]: each model is a mapping",
                  "models[5] (short): title is missing"):
        assert words in problems, (words, problems)
    assert exc.value.source == "models.yaml"
    with pytest.raises(DirectoryError, match="not valid YAML at line 3"):
        parse_models("models:\n- key: [unclosed\n", "m.yaml")
    with pytest.raises(DirectoryError, match="must hold `models:`"):
        parse_models("- key: a\n", "m.yaml")
    with pytest.raises(DirectoryError, match="cannot read the incident models file"):
        load_models(Path("/nonexistent/models.yaml"))


async def test_a_model_prefills_the_class_suggests_a_severity_and_attaches_a_checklist(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    n = f"WIS-SEC-{app.clock().year}-1"
    r = await ok(app, "anna.weber", "incident report DE-OF-NC share=group anonymous "
                 "model=ransomware Files on the DWD archive encrypted", "member-de")
    shown = text(r)
    assert r.private and "Malicious code: infected system" in shown, shown
    assert "Suggested severity: Security incident severity 4" in shown, shown
    assert f"severity {n} 4 <reason>" in shown, shown
    assert "☐ 1. Isolate the infected systems" in shown, shown
    # The severity is only suggested: the incident keeps the one given (default 2).
    assert "Security incident severity 2" in shown, shown
    r = await ok(app, "anna.weber", f"incident check {n} 2", "member-de")
    assert "☑ 2. Cut the connections" in text(r) and "1 of 5 done" in text(r), text(r)
    # Each tick is in the timeline, with who ticked.
    show = text(await ok(app, "sec-desk", f"incident show {n}"))
    assert "checked: 2. Cut the connections" in show and "model: Ransomware" in show, show
    # An anonymised reader's timeline: the ticks, never the Member.
    anon = text(await ok(app, "tokyo-desk", f"incident show {n}", "gisc-tokyo"))
    assert "checked: 2. Cut the connections" in anon, anon
    assert found(anon, DE_FORBIDDEN) == [], anon
    # class= given wins over the model's; a model at the same severity suggests nothing.
    r = await ok(app, "anna.weber", "incident report DE-OF-NC share=secretariat sev=2 "
                 "class=fraud/masquerade model=phishing Odd mails", "member-de")
    assert "Fraud: masquerade" in text(r) and "Suggested severity" not in text(r), text(r)


async def test_checklists_refuse_clearly_and_lose_nothing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    year = app.clock().year
    n = f"WIS-SEC-{year}-1"

    async def refused(who: str, line: str, words: str, where: str | None = None) -> Any:
        r = await app.console.type(who, line, where)
        assert r.kind == "error" and words in r.plain(), (line, r.plain())
        assert "Traceback" not in r.plain()
        return r

    # An unknown model: a clear error with the nearest, and no incident is created.
    await refused("anna.weber", "incident report DE-OF-NC share=group model=phish x",
                  "no incident model 'phish'; the models are: phishing", "member-de")
    none = text(await ok(app, "sec-desk", "incident list all"))
    assert "WIS-SEC" not in none, none
    await ok(app, "anna.weber", "incident report DE-OF-NC share=secretariat model=phishing "
             "Mails", "member-de")
    await ok(app, "anna.weber", f"incident check {n} 1", "member-de")
    await refused("anna.weber", f"incident check {n} 1", "already ticked by Anna Weber",
                  "member-de")
    await refused("anna.weber", f"incident check {n} 6", "items 1 to 5, not 6", "member-de")
    await refused("anna.weber", f"incident check {n} 0", "from 1 to 99", "member-de")
    # A stranger reads the same words as for an incident that does not exist.
    missing = (await app.console.type("hiro.sato", f"incident check WIS-SEC-{year}-99",
                                      "member-jp")).plain()
    hidden = (await app.console.type("hiro.sato", f"incident check {n} 2", "member-jp"))
    assert hidden.kind == "error" and hidden.plain() == missing.replace("-99", "-1"), \
        hidden.plain()
    await ok(app, "anna.weber", "incident report DE-OF-NC share=secretariat Plain", "member-de")
    await refused("anna.weber", f"incident check WIS-SEC-{year}-2 1", "has no checklist",
                  "member-de")
    # Only the tick that was allowed is in the timeline.
    r = text(await ok(app, "sec-desk", f"incident check {n}"))
    assert "☑ 1." in r and "☐ 2." in r and "1 of 5 done" in r, r


async def test_the_secretariat_adds_a_model_without_a_release_and_reloads(
        make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "models.yaml"
    path.write_text(EXTRA, encoding="utf-8")
    app = await make_app(incident_models=path)  # the example directory: `wisbot reload` reads it
    listing = text(await ok(app, "hiro.sato", "models"))
    assert "gts-link-flood" in listing and "phishing" in listing, listing
    one = text(await ok(app, "hiro.sato", "models gts-link-flood"))
    assert "Availability: dos" in one and "2. Ask the sending centre" in one, one
    n = f"WIS-SEC-{app.clock().year}-1"
    await ok(app, "hiro.sato", "incident report JP-GISC share=secretariat model=gts-link-flood "
             "Link flooded")
    # A broken edit is refused whole; the models in use stay.
    path.write_text(EXTRA.replace("severity: 3", "severity: high") + EXTRA.replace(
        "gts-link-flood", "second-one").replace("models:\n", ""), encoding="utf-8")
    r = await app.console.type("sec-desk", "wisbot reload")
    assert r.kind == "error" and "severity must be a whole number" in r.plain(), r.plain()
    assert str(path) in r.plain(), r.plain()
    assert "second-one" not in text(await ok(app, "hiro.sato", "models"))
    # Fixed: reloaded, told in words; the reported incident keeps its checklist.
    path.write_text(EXTRA.replace("- Ask the sending centre to stop it",
                                  "- Block the heading") + EXTRA.replace(
        "gts-link-flood", "second-one").replace("models:\n", ""), encoding="utf-8")
    r = await ok(app, "sec-desk", "wisbot reload")
    assert "incident models added: second-one" in r.plain(), r.plain()
    assert "incident models changed: gts-link-flood" in r.plain(), r.plain()
    assert "second-one" in text(await ok(app, "hiro.sato", "models"))
    kept = text(await ok(app, "hiro.sato", f"incident check {n}"))
    assert "Ask the sending centre" in kept and "Block the heading" not in kept, kept
    # Only the Secretariat reloads.
    r = await app.console.type("hiro.sato", "wisbot reload")
    assert r.kind == "error", r.plain()


def test_a_broken_models_file_stops_the_start_with_its_problems(tmp_path: Path) -> None:
    from wisbot.app import App
    from wisbot.settings import Settings

    path = tmp_path / "models.yaml"
    path.write_text(EXTRA.replace("availability/dos", "availability/dose"), encoding="utf-8")
    with pytest.raises(DirectoryError, match="nearest: availability/dos"):
        App(Settings(database_url=f"sqlite:///{tmp_path}/w.db", incident_models=path),
            directory=directory())


async def test_two_processes_tick_and_link_at_once_and_one_wins(make_app) -> None:  # type: ignore[no-untyped-def]
    """Two Apps on the same database (two processes, on PostgreSQL too): the same item
    ticked at once is ticked once; the same link made at once is made once."""
    import asyncio

    one = await make_app(directory())
    two = await make_app(directory())
    n = f"WIS-SEC-{one.clock().year}-1"
    await ok(one, "anna.weber", "incident report DE-OF-NC share=secretariat model=phishing "
             "Mails", "member-de")
    await ok(one, "anna.weber", 'kedb add "Relay" "relay passes phishing" Block it',
             "member-de")
    for attempt in range(3):
        item = attempt + 1
        replies = await asyncio.gather(
            one.console.type("anna.weber", f"incident check {n} {item}", "member-de"),
            two.console.type("sec-desk", f"incident check {n} {item}"))
        assert sorted(r.kind for r in replies) == ["error", "info"], \
            [r.plain() for r in replies]
    replies = await asyncio.gather(
        one.console.type("anna.weber", f"kedb link K-1 {n}", "member-de"),
        two.console.type("sec-desk", f"kedb link K-1 {n}"))
    assert sorted(r.kind for r in replies) == ["error", "info"], [r.plain() for r in replies]
    show = text(await ok(two, "sec-desk", f"incident show {n}"))
    assert show.count("checked: 1.") == 1 and show.count("checked: 3.") == 1, show
    assert text(await ok(one, "sec-desk", "kedb show K-1")).count(n) == 1


def test_the_cli_checks_a_models_file_before_reload(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wisbot.cli import app

    runner = CliRunner(env={"COLUMNS": "200"})
    good = tmp_path / "good.yaml"
    good.write_text(EXTRA, encoding="utf-8")
    r = runner.invoke(app, ["models", "check", str(good)])
    assert r.exit_code == 0 and "valid; 7 models" in r.output and "gts-link-flood" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXTRA.replace("severity: 3", "severity: 7").replace("class:", "clas:"),
                   encoding="utf-8")
    r = runner.invoke(app, ["models", "check", str(bad)])
    assert r.exit_code == 1, r.output
    for words in ("severity must be a whole number from 0 to 5, not 7",
                  "unknown field 'clas' (did you mean 'class'?)", "class is missing"):
        assert words in r.output, r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["models", "list", str(good)])
    assert r.exit_code == 0 and "ransomware" in r.output and str(good) in r.output
