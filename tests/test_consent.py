"""Consent held at the moment a message leaves, the free-text review of anonymised rooms,
the query rate limit, and no protected text or secret in the logs.

Forbidden words are written here by hand (names, codes, identifiers, people)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from wisbot.adapters.slack import SlackConfig
from wisbot.channels import SmtpSender, WebhookSender

# ----- logs ---------------------------------------------------------------------------


async def test_a_failing_command_logs_no_text_of_it(make_app: Any, caplog: Any,
                                                    monkeypatch: Any) -> None:
    app = await make_app()

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(app.services.incidents, "update", boom)
    await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=2 x",
                           "member-de")
    with caplog.at_level(logging.DEBUG):
        reply = await app.console.type(
            "anna.weber", "incident update WIS-SEC-2026-1 Ransom note signed by Jonas at "
            "EDZW, call +49 69 8062 4400", "member-de")
    assert reply.kind == "error" and "Error id" in reply.plain()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "incident update" in logged  # the command's name is there to debug with
    for word in ("Ransom", "Jonas", "EDZW", "8062", "4400"):
        assert word not in logged


def test_config_reprs_hold_no_secret() -> None:
    shown = " ".join(repr(x) for x in (
        SlackConfig(bot_token="xoxb-hand-written-1", app_token="xapp-hand-written-2",
                    signing_secret="s3cr3t-hand-written"),
        SmtpSender(host="smtp.example.org", username="wisbot", password="pw-hand-written"),
        WebhookSender(secret="hook-hand-written"),
    ))
    for secret in ("xoxb-hand-written-1", "xapp-hand-written-2", "s3cr3t-hand-written",
                   "pw-hand-written", "hook-hand-written"):
        assert secret not in shown
    assert "smtp.example.org" in shown


# ----- query rate limit ---------------------------------------------------------------


async def test_queries_are_limited_per_person_with_a_clear_refusal(make_app: Any,
                                                                   clock: Any) -> None:
    app = await make_app(query_limit=3, query_window_minutes=60)
    c = app.console
    for subject in ("DE-OF-NC", "CH-NC", "KE-NC"):
        r = await c.type("gisc-tokyo", f"incident query {subject}", "gisc-tokyo")
        assert r.kind != "error", r.plain()
    refused = await c.type("gisc-tokyo", "incident query JP-TK-NC", "gisc-tokyo")
    text = refused.plain()
    assert refused.kind == "error" and "limit is 3" in text and "ask again after" in text
    # Someone else is not limited by another person's queries.
    other = await c.type("gisc-exeter", "incident query JP-TK-NC", "gisc-exeter")
    assert other.kind != "error"
    # Only four queries reached the Secretariat (three and the other person's one).
    await app.outbox.drain()
    secretariat = [r for r in c.rooms.get(app.directory.room("secretariat").target, [])
                   if r.kind == "query"]
    assert len(secretariat) == 4
    clock.now = clock.now + timedelta(minutes=61)
    again = await c.type("gisc-tokyo", "incident query JP-TK-NC", "gisc-tokyo")
    assert again.kind != "error"


@pytest.mark.parametrize("hidden", [True, False])
async def test_the_query_limit_reads_the_same_whether_or_not_something_is_hidden(
        make_app: Any, hidden: bool) -> None:
    app = await make_app(query_limit=1)
    if hidden:
        await app.console.type("anna.weber",
                               "incident report DE-OF-NC share=secretariat sev=2 Quiet one",
                               "member-de")
    await app.console.type("gisc-tokyo", "incident query CH-NC", "gisc-tokyo")
    refused = await app.console.type("gisc-tokyo", "incident query DE-OF-NC", "gisc-tokyo")
    assert refused.kind == "error"
    assert "WIS-SEC" not in refused.plain() and "Quiet" not in refused.plain()
