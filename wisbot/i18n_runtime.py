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
    # commands/watch.py: the help of `watch ticket` is built from its usage constant
    # (TICKET_USAGE; the command words in it stay as they are).
    N_("Watch tickets: watch ticket add <GISC> <finding> [impact=very-high|high|medium] · "
       "watch ticket <n> triage|todo|progress|review|done [note] · "
       "watch ticket <n> assign <who> · watch ticket <n>"),
    # commands/wmem.py: `watch outage` help ends with its usage constant (USAGE).
    N_("Announce a planned outage of a WIS 2.0 service: suppresses its tickets and flags in "
       "the window; published as a WMEM when wmem_publish is on. watch outage <service> "
       "<from> <to> <text>, e.g. `watch outage gb-dwd 2026-03-05T09:00Z 2026-03-05T11:00Z "
       "broker upgrade`"),
    # commands/exchange.py declares its command through a subclass of Command.
    N_("Near-real-time exchange disputes: open a case about a record, consult the GISCs, "
       "refer to the working group."),
)

ARGUMENT_HELP = (
    # kedb, models, incident report model= and incident check (issue 17).
    N_('a known error number, e.g. K-3'),
    N_('a short name, in quotes'),
    N_('what people see, in quotes'),
    N_('only the Member and the Secretariat'),
    N_('the whole group, without naming the Member'),
    N_('the whole group, naming the Member (only its focal points may choose it)'),
    N_('the Member that met it (default: yours)'),
    N_('what to do until it is fixed'),
    N_('an incident model (`models`): classification, suggested severity and a checklist'),
    N_("the item's number"),
    # The help of command arguments and their choices (``Arg(help=...)``, ``choice_help``),
    # shown in usage; translated where the usage is built (commands/registry.py).
    N_('--format misp (a MISP event) or --format stix (a STIX 2.1 bundle)'),
    N_('a CVE identifier, e.g. CVE-2024-3400'),
    N_("a Member's code, name or acronym"),
    N_('a file hash: MD5, SHA-1, SHA-256 or SHA-512 in hex (told apart by length)'),
    N_('a host or domain name, e.g. evil.example'),
    N_('a lesson number, e.g. L-3'),
    N_('an IPv4 address, e.g. 203.0.113.7'),
    N_('an IPv6 address, e.g. 2001:db8::7'),
    N_('an RSIT class or class/type'),
    N_('an e-mail address'),
    N_('an http, https or ftp URL'),
    N_('confirm a widening asked for just before'),
    N_('everyone, TLP:CLEAR, anonymised: only once the affected Member releases it '
       '(`lessons release`)'),
    N_('minimum severity: sev=2 lists severity 2 and above'),
    N_('not yet resolved (the default)'),
    N_('open, resolved and closed'),
    N_('record an indicator'),
    N_('resolved or closed'),
    N_('sightings: most seen elsewhere first'),
    N_('the RSIT classification, e.g. fraud/phishing'),
    N_('the indicators you may see'),
    N_('the same as resolved'),
    N_('what you saw'),
    N_('where or how it was seen'),
    N_("+ every GISC's area room and the collaboration room (the whole group)"),
    N_('+ every other GISC'),
    N_("+ the centre's principal GISC"),
    N_('a page (P-3), an incident number or a query (Q-2)'),
    N_('an incident number, e.g. WIS-SEC-2026-7'),
    N_('minimum severity'),
    N_('only the affected Member and the Secretariat'),
    N_("rooms beyond the Secretariat and principal GISC read 'a WIS centre in the area of GISC X'"),
    N_('secretariat, gisc:<GISC> or member:<Member> (or just the name)'),
    N_('severity, default 2'),
    N_("the WMO Secretariat only (and the Member's own room)"),
    N_("the affected WIS centre's code"),
    N_('the lesson'),
    N_('the review number'),
    N_('the review number from the request (default: every one waiting)'),
    N_('the whole group, naming the Member (only its focal points may choose it)'),
    N_('the whole group, without naming the Member'),
    N_('what anonymised rooms read'),
    N_('what changed'),
    N_('what happened, in a sentence'),
    N_('what needs escalating'),
    N_('who may be told; required, there is no default'),
    N_('why'),
)

CHANGE_HELP = (
    # commands/change.py: the help of its arguments (``Arg(help=...)``).
    N_("urgent, high, medium or low"),
    N_("the assessed risk"),
    N_("why it is rejected"),
    N_("what could go wrong, and how likely"),
    N_("the test result"),
    N_("the review"),
)
