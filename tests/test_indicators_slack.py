"""Indicators and exports on Slack. Slack is hosted: slack-bolt's real request handling
and slack_sdk's real client run against the local fake of exactly the Web API wisbot uses
(tests/_fake_slack.py; see tests/test_slack.py), with the real App on SQLite (and
PostgreSQL when configured)."""

from __future__ import annotations

import json

from tests.test_slack import C, StartSlack, U, fake_slack, mrkdwn_texts, start_slack  # noqa: F401

N = "WIS-SEC-2026-1"


async def test_indicators_reach_slack_defanged_unlinked_and_without_previews(
        start_slack: StartSlack) -> None:  # noqa: F811
    env = await start_slack()
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=group sev=2 Phishing mails to operators")
    reply = await env.reply_to(
        "anna.weber", "member-de", "/incident",
        f"ioc add {N} url https://evil.example/login.php from <https://evil.example|here> "
        "and bad@evil.example")
    assert "hxxps://evil[.]example/login[.]php" in reply["text"], reply["text"]
    await env.reply_to("anna.weber", "member-de", "/incident", f"ioc add {N} ipv4 203.0.113.7")
    await env.app.outbox.drain()
    posts = [p for p in env.fake.posts() if "indicator I-" in p["text"]]
    assert {p["channel"] for p in posts} >= {C("secretariat"), C("member-de"),
                                             C("collaboration")}
    texts = [t for p in [*posts, reply] for t in mrkdwn_texts(p)]
    joined = "\n".join(texts)
    assert "hxxps://evil[.]example/login[.]php" in joined and "203.0.113[.]7" in joined
    assert "bad[@]evil[.]example" in joined
    for text in texts:
        # No link Slack would render: no <…> markup, no URL, address or domain it links.
        assert "<http" not in text and "|here>" not in text, text
        assert "https://" not in text and "evil.example" not in text, text
        assert "203.0.113.7" not in text, text
    for post in posts:
        assert str(post["unfurl_links"]).lower() == "false", post
        assert str(post["unfurl_media"]).lower() == "false", post
        for block in json.loads(post["blocks"]) if isinstance(post["blocks"], str) \
                else post["blocks"]:
            for obj in [block.get("text") or {}, *(block.get("fields") or [])]:
                if obj.get("type") == "mrkdwn":
                    assert obj.get("verbatim") is True, obj


async def test_an_export_from_slack_arrives_as_a_file_in_the_direct_chat(
        start_slack: StartSlack) -> None:  # noqa: F811
    env = await start_slack()
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=2 Phishing mails")
    await env.reply_to("anna.weber", "member-de", "/incident",
                       f"ioc add {N} domain evil.example")
    reply = await env.reply_to("anna.weber", "member-de", "/incident",
                               f"export {N} --format stix")
    assert reply["response_type"] == "ephemeral"
    assert "TLP:AMBER+STRICT" in reply["text"] and "direct chat" in reply["text"]
    await env.app.outbox.drain()
    (shared,) = env.fake.files_in("D" + U("anna.weber"))
    assert shared.filename == f"{N}.stix.json"
    bundle = json.loads(shared.content)
    assert any(o["type"] == "indicator" for o in bundle["objects"])
    assert "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" in shared.content.decode()
    assert len(env.fake.files) == 1  # no channel got it
