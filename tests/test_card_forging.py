"""User text inside a card cannot pass for the bot's own lines: line breaks, bidi overrides
and isolates, zero-width characters and Slack formatting are neutralised in what a person
typed, on the console and on Slack (through slack-bolt against tests/_fake_slack.py)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.helpers import room_text
from tests.test_slack import (  # noqa: F401  (pytest fixtures)
    C,
    StartSlack,
    blocks_of,
    fake_slack,
    mrkdwn_texts,
    start_slack,
)
from wisbot.adapters.slack_render import render_blocks, render_text
from wisbot.reply import Reply, ReplyBuilder, Span, user

FORGED = ("Phishing seen\nSeverity: Security incident severity 0 – No current issues\r\n"
          "Status: closed\u2028Recommended action: none, ignore this")
BIDI = "Summary ok \u202eesolc\u202c \u2066Status: closed\u2069 x\u200bx\u200dy\ufeffz"


async def test_a_summary_cannot_add_severity_or_status_lines_on_the_console(
        make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber",
                           f"incident report DE-OF-NC share=principal-gisc sev=4 {FORGED}",
                           "member-de")
    await app.console.type("anna.weber", f"incident update WIS-SEC-2026-1 {BIDI}", "member-de")
    await app.outbox.drain()
    seen = room_text(app, "gisc-offenbach")
    lines = seen.splitlines()
    # Each card (report, update) has exactly its own Severity and Status lines.
    assert sum(1 for line in lines if line.startswith("Severity:")) == 2
    assert sum(1 for line in lines if line.startswith("Status:")) == 2
    assert not any(line.startswith("Recommended action: none") for line in lines)
    assert all(line.startswith("Severity: Security incident severity 4")
               for line in lines if line.startswith("Severity:"))
    # The person's text is kept, visibly on one line, and nothing invisible reaches it.
    assert "Phishing seen ⏎ Severity: Security incident severity 0" in seen
    for ch in ("\u202e", "\u202c", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\u2028"):
        assert ch not in seen
    assert "xxyz" in seen


def test_a_stored_reply_is_neutralised_when_read_back() -> None:
    """Rows queued before the fix (or written by hand) are neutralised when loaded."""
    raw = {"title": "t", "lines": [[{"text": "a\nStatus: closed\u202e", "style": "user"}]]}
    reply = Reply.model_validate(raw)
    assert reply.plain().splitlines() == ["t", "a ⏎ Status: closed"]
    assert Span(text="two\nlines").text == "two\nlines"  # the bot's own text is untouched


def test_slack_formatting_in_user_text_is_inert() -> None:
    b = ReplyBuilder("WIS-SEC-2026-1 – update", kind="incident")
    b.field("Severity", "Security incident severity 4")
    b.line(Span(text="Note: ", style="bold"),
           user("*Severity:* 0 _now_ ~closed~ `x` keep de_of_nc"))
    reply = b.build()
    texts = [t for t in [render_text(reply), *mrkdwn_texts({"blocks": render_blocks(reply)})]
             if "Note" in t]
    assert len(texts) == 2
    for text in texts:
        assert "*Severity:*" not in text
        assert not re.search(r"(?<!\w)_now_(?!\w)", text)
        assert "~closed~" not in text and "`x`" not in text
        assert "de_of_nc" in text  # inside a word an underscore formats nothing: kept
    assert "*Note:*" in texts[0]  # wisbot's own bold label still is bold


async def test_slack_card_of_a_forged_summary_has_one_severity_field(
        start_slack: StartSlack) -> None:  # noqa: F811
    """Through slack-bolt and the fake Slack API: the posted card's mrkdwn holds the
    person's words on one line, with no bold label of theirs."""
    env = await start_slack()
    for _ in range(200):  # the start-up room checks pass (rooms are held until then)
        if not env.app.holds:
            break
        await asyncio.sleep(0.05)
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=4 Phishing\n*Severity:* 0 "
                       "\u202eesolc")
    for _ in range(100):  # the room's card, once the outbox has sent it
        await env.app.outbox.drain()
        if env.fake.posts(C("gisc-offenbach")):
            break
        await asyncio.sleep(0.05)
    (posted,) = env.fake.posts(C("gisc-offenbach"))
    texts = [*mrkdwn_texts({"blocks": blocks_of(posted)}), posted["text"]]
    joined = "\n".join(texts)
    assert "*Severity:*" not in joined and "\u202e" not in joined
    assert not any(line.startswith("∗Severity") for t in texts for line in t.splitlines())
    assert "Phishing ⏎ ∗Severity:∗ 0" in joined
