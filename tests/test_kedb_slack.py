"""Known errors and incident models on Slack. Slack is hosted: slack-bolt's real request
handling and slack_sdk's real client run against the local fake of exactly the Web API
wisbot uses (tests/_fake_slack.py; see tests/test_slack.py), with the real App on SQLite
(and PostgreSQL when configured). Forbidden words are written here by hand."""

from __future__ import annotations

from typing import Any

from tests.test_kedb import found
from tests.test_slack import StartSlack, fake_slack, mrkdwn_texts, start_slack  # noqa: F401

DE_FORBIDDEN = ["DWD", "EDZW", "Anna", "Weber", "Germany", "Deutscher Wetterdienst",
                "DE-OF-NC", "de-dwd"]
N = "WIS-SEC-2026-1"


def joined(payload: Any) -> str:
    return "\n".join(mrkdwn_texts(payload))


def suggested(payload: Any) -> str:
    return joined(payload).partition("Known errors that may match")[2]


async def test_kedb_and_models_on_slack_answer_the_typist_only(
        start_slack: StartSlack) -> None:  # noqa: F811
    env = await start_slack()
    r = await env.reply_to("anna.weber", "member-de", "/kedb",
                           'add share=anonymous "DWD relay at EDZW" "phishing mails reach '
                           'operators through relay" Block the sender; ask Anna Weber')
    assert r["response_type"] == "ephemeral" and "K-1" in joined(r), r
    # Japan reports with a model, in the direct chat: the class, the suggestion, the list.
    r = await env.reply_to("hiro.sato", None, "/incident",
                           "report JP-GISC share=secretariat model=phishing Phishing mails "
                           "reach our operators through the relay")
    text = joined(r)
    assert "Fraud: phishing" in text and "1. Keep one phishing mail" in text, text
    assert "K-1" in suggested(r) and "Block the sender" in suggested(r), text
    assert found(suggested(r), DE_FORBIDDEN) == [], text
    r = await env.reply_to("hiro.sato", None, "/incident", f"check {N} 1")
    assert "1 of 5 done" in joined(r), joined(r)
    # Germany reports in its channel: the suggestion is ephemeral, never posted.
    r = await env.reply_to("anna.weber", "member-de", "/incident",
                           "report DE-OF-NC share=group sev=2 phishing mails reach operators "
                           "through relay")
    assert r["response_type"] == "ephemeral" and "K-1" in suggested(r), r
    assert "DWD relay at EDZW" in suggested(r)  # its own, named
    await env.app.outbox.drain()
    posts = "\n".join(joined(p) for p in env.fake.posts())
    assert "Known errors that may match" not in posts and "Block the sender" not in posts
    # Another Member reads it anonymised; a stranger to it reads what a missing one gives.
    r = await env.reply_to("jonas.keller", None, "/kedb", "show K-1")
    assert "Block the sender" in joined(r) and found(joined(r), DE_FORBIDDEN) == [], r
    r = await env.reply_to("jonas.keller", None, "/kedb", "search EDZW")
    assert "No known errors" in joined(r), joined(r)
    r = await env.reply_to("jonas.keller", None, "/models", "")
    assert "wis2-broker-account" in joined(r), joined(r)
