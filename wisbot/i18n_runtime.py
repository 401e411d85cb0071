"""Messages put together at run time from parts the extractor cannot see: listed here so
the catalogs hold them (``make i18n`` extracts this module like any other)."""

from __future__ import annotations

from wisbot.i18n import N_

COMMAND_HELP = (
    # commands/incident.py builds these from a table of the timeline changes.
    N_("Add an update to the timeline; the incident's rooms are told."),
    N_("Mark the incident resolved; the incident's rooms are told."),
    N_("Close the incident; the incident's rooms are told."),
    N_("Reopen a resolved or closed incident; the incident's rooms are told."),
    # commands/exchange.py declares its command through a subclass of Command.
    N_("Near-real-time exchange disputes: open a case about a record, consult the GISCs, "
       "refer to the working group."),
)
