"""Rendering and parsing without a homeserver: escaping, mentions, reply fallbacks."""

from __future__ import annotations

import pytest

pytest.importorskip("nio")

from wisbot.adapters.matrix import neutralise, render, strip_reply_fallback, txn_id
from wisbot.reply import ReplyBuilder, bold, code, user


def test_user_text_cannot_inject_html_links_or_mentions() -> None:
    b = ReplyBuilder("WIS-SEC-2026-1 – <i>reported</i>", kind="incident")
    b.field("Centre", "A & B <script>")
    b.line(bold("Summary: "), user('<a href="https://matrix.to/#/@admin:x">x</a> @room '
                                   "@anna:example.org"))
    b.line(code("incident show <id>"))
    content = render(b.build())
    html = content["formatted_body"]
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert "<a " not in html and "<script>" not in html and "<i>reported</i>" not in html
    assert "&lt;a href=&quot;https://matrix.to/#/@\u2060admin:x&quot;&gt;" in html
    assert "<b>Summary: </b>" in html and "<code>incident show &lt;id&gt;</code>" in html
    assert "@room" not in content["body"] and "@anna:" not in content["body"]
    assert "@\u2060room" in content["body"]
    assert content["m.mentions"] == {}


def test_neutralise_keeps_addresses_readable() -> None:
    assert neutralise("mail ops@gisc.example.org, @room!") == \
        "mail ops@\u2060gisc.example.org, @\u2060room!"
    assert neutralise("no mention @ all") == "no mention @ all"


def test_reply_fallback_is_stripped() -> None:
    body = "> <@wisbot:x> WIS-SEC-2026-1 – reported\n> more\n\nack"
    assert strip_reply_fallback(body) == "ack"
    assert strip_reply_fallback("!incident list") == "!incident list"


def test_transaction_id_is_stable_per_outbox_key() -> None:
    assert txn_id("n1-secretariat") == txn_id("n1-secretariat")
    assert txn_id("n1-secretariat") != txn_id("n2-secretariat")
    assert txn_id("n1-secretariat").isascii() and "/" not in txn_id("n1-@x:y")
