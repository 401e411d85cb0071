"""A handover page carries counts and a pointer to the report, not its ticket table."""

from __future__ import annotations

from tests.helpers import room_text
from wisbot.adapters.console import render_text


async def test_handover_page_has_counts_and_a_pointer_not_the_table(watch_app, clock):
    app = await watch_app()
    await app.console.type("watch-op", "watch ticket add Exeter OAI provider not active",
                           "gisc-tokyo")
    await app.console.type("watch-op", "watch ticket add Seoul Broker Quokka unreachable",
                           "gisc-tokyo")
    clock.advance(days=12)
    await app.console.type("gisc-tokyo", "watch handover all quiet", "gisc-tokyo")
    await app.outbox.drain()
    pages = [render_text(r) for r in app.console.direct.get("gisc-exeter", [])]
    assert len(pages) == 1, app.console.direct
    page = pages[0]
    assert "Tickets: 2 in the period (2 open)" in page
    assert "Broker Quokka" not in page and "OAI provider not active" not in page
    assert "watch report 2026-03-01 2026-03-14" in page
    assert "watch accept" in page and "all quiet" in page
    # the room still gets the whole report
    assert "Broker Quokka unreachable" in room_text(app, "gisc-exeter")
