"""Synapse's default rate limits: M_LIMIT_EXCEEDED becomes a retry after the server's
retry_after_ms, and the outbox delivers everything once; the bot logs in once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.matrix.conftest import World, make_world
from tests.matrix.synapse import Synapse
from wisbot.adapters.base import DeliveryError, RoomRef
from wisbot.reply import text_reply


async def test_default_limits_give_retry_after_and_nothing_is_lost(
        synapse_default_limits: Synapse, tmp_path: Path, sqlite_url: str) -> None:
    world = await make_world(synapse_default_limits, tmp_path, sqlite_url)
    try:
        app = await world.app(run_worker=False)
        adapter = app.adapters["matrix"]
        room = RoomRef("matrix", world.rooms["gisc-tokyo"], "gisc-tokyo")
        limited: DeliveryError | None = None
        sent = 0
        for i in range(40):
            try:
                await adapter.send(room, text_reply(f"burst {i}"), key=f"burst-{i}")
                sent += 1
            except DeliveryError as exc:
                limited = exc
                break
        assert limited is not None, "Synapse's default rc_message never limited 40 sends"
        assert "M_LIMIT_EXCEEDED" in str(limited)
        assert limited.retry_after is not None and 0 < limited.retry_after <= 60
        assert not limited.permanent
        start = time.monotonic()
        # the outbox's answer: wait what the server said, then the same key goes through
        import asyncio

        await asyncio.sleep(limited.retry_after)
        await adapter.send(room, text_reply(f"burst {sent}"), key=f"burst-{sent}")
        assert time.monotonic() - start >= limited.retry_after
        tk = world.people["tk"]
        await tk.sync()
        bodies = [n["body"] for n in tk.notices(room.address, world.bot)]
        assert bodies == [f"burst {i}" for i in range(sent + 1)]
    finally:
        for a in reversed(world.apps):
            await a.stop()
        for p in world.people.values():
            await p.close()


async def test_a_started_bot_logs_in_once_also_after_losing_and_taking_the_lead(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins have a rate limit of their own (Synapse's default ``rc_login``: five per
    address, then one every few minutes): the sending-only client and the leader's sync
    share one password login, also when the lead is lost and taken again."""
    from nio import AsyncClient

    real = AsyncClient.login
    logins: list[str] = []

    async def counted(self: AsyncClient, *args: Any, **kw: Any) -> Any:
        logins.append(self.user)
        return await real(self, *args, **kw)

    monkeypatch.setattr(AsyncClient, "login", counted)
    app = await world.app()
    assert app.leading
    await app._follow("test")
    await app._lead(2)
    tk, room = world.people["tk"], world.rooms["gisc-tokyo"]
    await tk.say(room, "!severity")  # the leader's sync runs again
    await tk.wait_for(room, world.bot, lambda t: "severity" in t.lower())
    assert logins == [world.bot]
