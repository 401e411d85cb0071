"""How long a summary may be, and how long free text may run in a cascade post or a page.

A summary is read in every room told and in every page, often as a phone notification at
night: 400 characters is three or four lines there, enough for what happened, where and
what is affected, and short enough to read at a glance. Details belong in
``incident update`` (the timeline, shown in full by ``incident show``).
"""

from __future__ import annotations

from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, user

SUMMARY_LIMIT = 400
"""Characters of a summary (``incident report``); also where cards cut longer free text."""


def clip(text: str, number: str | None, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` cut at a word boundary before ``limit``, pointing to ``incident show``."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    where = _t(" (in full: `incident show {number}`)", number=number) if number else ""
    return f"{cut.rstrip()}…{where}"


def summary_refusal(summary: str) -> Reply | None:
    """A summary over the limit is refused, privately, with the person's own words given
    back so nothing is lost."""
    if len(summary) <= SUMMARY_LIMIT:
        return None
    b = ReplyBuilder(_t("Summary too long: nothing was reported"), kind="error")
    b.line(_t("The summary has {count} characters; the limit is {summary_limit}, so that every "
              "room and page shows it at a glance. Report with a short summary, then add "
              "details with ",
              count=len(summary), summary_limit=SUMMARY_LIMIT),
              Span(text="incident update <id> <text>",
              style="code"),
           ".")
    b.line(_t("Your text, to shorten and send again:"))
    b.line(user(summary))
    return b.build(private=True)
