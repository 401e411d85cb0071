"""What a list shows of each incident: one line per incident, so several at one centre can
be told apart at a glance, in the wording the reader's room may read."""

from __future__ import annotations

import re

from wisbot.directory import Directory
from wisbot.domain.confidentiality import Vis
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.reply import Span, user
from wisbot.services.render import UNREVIEWED, centre_label, text_for
from wisbot.store.tables import Incident

SUMMARY_WIDTH = 60
"""Characters of a summary a list line shows (the whole one: `incident show`)."""

WHICH = {
    "open": ("open",),
    "resolved": ("resolved", "closed"),
    "closed": ("resolved", "closed"),
    "all": ("open", "resolved", "closed"),
}
"""``incident list <which>`` → the statuses listed (``closed`` is an alias of
``resolved``: a tired operator does not care which of the two ended it)."""

_SPACE = re.compile(r"\s+")


def one_line(text: str, width: int = SUMMARY_WIDTH) -> str:
    """``text`` on one line, cut at a word boundary near ``width`` with an ellipsis."""
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= width:
        return flat
    cut = flat[:width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–") + "…"


def summary_span(directory: Directory, inc: Incident, vis: Vis,
                 width: int = SUMMARY_WIDTH) -> Span:
    """The summary as ``vis`` reads it (anonymised: only the reviewed, redacted wording),
    shortened after redaction, so a cut never leaves half a withheld name."""
    text = text_for(directory, inc, vis, inc.summary, inc.anon_summary)
    if text == UNREVIEWED:
        return Span(text=_t("(summary not yet cleared for anonymised rooms)"), style="italic")
    return user(one_line(text, width))


def centre_short(directory: Directory, inc: Incident, vis: Vis) -> str:
    """The centre as a list names it: its code and Member (``DE-OF-NC, Germany``); the
    full name is in `incident show`. Anonymised: the same label as everywhere."""
    if vis is not Vis.NAMED:
        return centre_label(directory, inc, vis)
    try:
        return f"{inc.centre}, {directory.member(inc.member).name}"
    except NotFound:  # a Member dropped from the directory keeps its code
        return f"{inc.centre}, {inc.member}"


def list_title(which: str, centre: str | None, sev_min: int | None,
               rsit_class: str | None = None) -> str:
    filters = []
    if centre:
        filters.append(_t("at {centre}", centre=centre))
    if sev_min is not None:
        filters.append(_t("severity ≥ {level}", level=sev_min))
    if rsit_class:
        filters.append(_t("class {rsit_class}", rsit_class=rsit_class))
    shown = f" ({', '.join(filters)})" if filters else ""
    if which == "open":
        return _t("Open incidents{filters} you may see here", filters=shown)
    if which == "all":
        return _t("All incidents{filters} you may see here", filters=shown)
    return _t("Resolved or closed incidents{filters} you may see here", filters=shown)
