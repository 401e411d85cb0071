"""The access log: who opened which incident or page, when (the Secretariat reads it at
``/access-log``: proof of who knew what)."""

from __future__ import annotations

from starlette.requests import Request

from wisbot.store.web_tables import WebAccess


async def record_access(request: Request, kind: str, ref: str) -> None:
    """Record that the signed-in person opened ``kind`` ``ref`` (e.g. ``incident``,
    ``WIS-2026-0042``; ``page``, ``/watch``). Nobody signed in: nothing to record."""
    caller = getattr(request.state, "caller", None)
    bot = getattr(request.state, "bot", None)
    if caller is None or bot is None or bot.store is None:
        return
    row = WebAccess(contact_id=caller.contact.id, kind=kind[:32], ref=ref[:200],
                    path=request.url.path[:500],
                    ip=(request.client.host if request.client else None),
                    at=bot.clock())
    await bot.store.tx(lambda s: s.add(row))
