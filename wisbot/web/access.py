"""The access log: who opened which incident or page, when (the Secretariat reads it at
``/access-log``: proof of who knew what)."""

from __future__ import annotations

from starlette.requests import Request

from wisbot.store.web_tables import WebAccess

REF_WIDTH = 200  # WebAccess.ref


async def record_access(request: Request, kind: str, ref: str) -> None:
    """Record that the signed-in person opened ``kind`` ``ref`` (e.g. ``incident``,
    ``WIS-2026-0042``; ``page``, ``/watch``). Nobody signed in: nothing to record."""
    await record_list(request, kind, [ref])


async def record_list(request: Request, kind: str, refs: list[str]) -> None:
    """Record that the signed-in person read every one of ``refs`` on one page (e.g. the
    incident numbers a register page showed): as few rows as the column width allows,
    none cut short, so a search for a number finds each page that showed it."""
    caller = getattr(request.state, "caller", None)
    bot = getattr(request.state, "bot", None)
    if caller is None or bot is None or bot.store is None or not refs:
        return
    chunks: list[str] = []
    for ref in refs:
        ref = ref[:REF_WIDTH]
        if chunks and len(chunks[-1]) + 2 + len(ref) <= REF_WIDTH:
            chunks[-1] += ", " + ref
        else:
            chunks.append(ref)
    at, ip = bot.clock(), (request.client.host if request.client else None)
    rows = [WebAccess(contact_id=caller.contact.id, kind=kind[:32], ref=chunk,
                      path=request.url.path[:500], ip=ip, at=at) for chunk in chunks]
    await bot.store.tx(lambda s: s.add_all(rows))
