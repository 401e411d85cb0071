"""The scripted demonstration: the whole incident flow on the console, then every room's
view, so a reader sees who was told what."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text
from sqlmodel import Session, col, select

from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.app import App
from wisbot.directory import Room
from wisbot.domain.confidentiality import Vis
from wisbot.i18n import N_, Lazy, ngettext
from wisbot.i18n import _ as _t
from wisbot.services.incidents import audience
from wisbot.services.render import exposure
from wisbot.settings import Settings
from wisbot.store.paging_tables import Page
from wisbot.store.tables import Incident

EXAMPLE_DIRECTORY = Path(__file__).resolve().parent.parent / "deploy" / "directory.example.yaml"

SCRIPT: list[tuple[str, str | None, str, Lazy]] = [
    ("anna.weber", "member-de",
     "incident report DE-OF-NC share=principal-gisc sev=3 Phishing mails with a fake WIS "
     "portal login reached DWD operators; two accounts entered passwords",
     N_("Germany's lead focal point reports; only the Secretariat, Germany's room and GISC "
        "Offenbach are told.")),
    ("sec-desk", "secretariat",
     "severity WIS-SEC-{year}-1 4 Stolen credentials used against the DWD message switch",
     N_("The Secretariat raises the severity: the words and the action are always shown.")),
    ("gisc-offenbach", "gisc-offenbach",
     "incident classify WIS-SEC-{year}-1 fraud/phishing",
     N_("GISC Offenbach classifies it in the CSIRTs' taxonomy (RSIT); every message starts "
        "with its TLP label: principal-gisc is TLP:AMBER+STRICT.")),
    ("gisc-offenbach", "gisc-offenbach", "ack P-1",
     N_("Severity 3 paged the on-call focal points; GISC Offenbach's desk acknowledges within "
        "the 1-hour target.")),
    ("sec-maria", None, "ack P-2",
     N_("The Secretariat's on-call focal point acknowledges its own page, in a direct message.")),
    ("anna.weber", "member-de", "incident share WIS-SEC-{year}-1 group anonymous",
     N_("Germany asks to tell the whole group, anonymously: wisbot first says how many rooms "
        "and organisations will read it, and changes nothing yet.")),
    ("anna.weber", "member-de", "incident share WIS-SEC-{year}-1 group anonymous confirm",
     N_("Germany confirms: other rooms read 'a WIS centre in the area of GISC Offenbach'.")),
    ("hiro.sato", None, "incident query DE-OF-NC",
     N_("Japan heard rumours about DE-OF-NC. It may see the incident only anonymised, so the "
        "reply cannot confirm anything: a query goes to the Secretariat.")),
    ("sec-maria", None, "ack P-3",
     N_("The query paged the Secretariat's on-call focal point, who acknowledges it.")),
    ("sec-desk", "secretariat",
     "incident answer Q-1 An incident in the area of GISC Offenbach is being handled; see "
     "the collaboration room",
     N_("The Secretariat answers; the answer reaches Japan.")),
    ("anna.weber", "member-de",
     "incident resolve WIS-SEC-{year}-1 Accounts reset, MFA enforced, no data altered",
     N_("Germany resolves the incident.")),
    ("anna.weber", "member-de",
     "lessons add WIS-SEC-{year}-1 share=anonymous Enforce MFA on every WIS portal login; "
     "DWD staff now report look-alike domains within minutes",
     N_("An anonymised lesson: the collaboration room never learns it came from Germany.")),
    ("hiro.sato", None, "lessons search MFA portal",
     N_("Japan searches the lessons: anonymised, no incident number.")),
    ("sec-desk", "secretariat", "incident evidence WIS-SEC-{year}-1",
     N_("The Secretariat checks the service-target evidence: who was told and paged, when, "
        "and whether the 1-hour target was met.")),
    ("wanjiru.kamau", None,
     "incident report KE-NC share=secretariat sev=1 Suspicious scans of the KMD FTP server",
     N_("Kenya reports an incident for the Secretariat's eyes only.")),
    ("gisc-offenbach", "gisc-offenbach", "incident list all",
     N_("GISC Offenbach lists incidents: Kenya's is not there.")),
    ("gisc-offenbach", "gisc-offenbach", "incident show WIS-SEC-{year}-2",
     N_("…and asking for it directly gets the same answer as a number that does not exist.")),
    ("gisc-offenbach", "gisc-offenbach", "incident reprot KE-NC",
     N_("A typo gets a 'did you mean'.")),
    ("anna.weber", "member-de", "incident report DE-OF-NC sev=2 Odd logins",
     N_("Forgetting share= gets the usage with the four levels explained, never a default.")),
]


async def run_demo(out: Console | None = None, database_url: str | None = None,
                   directory: Path = EXAMPLE_DIRECTORY) -> dict[str, str]:
    """Run the scripted scenario; return each room's transcript."""
    console = out or Console()
    sink = io.StringIO()
    adapter = ConsoleAdapter(out=sink, echo=False)
    with tempfile.TemporaryDirectory(prefix="wisbot-demo-") as tmp:
        url = database_url or f"sqlite:///{tmp}/demo.db"
        settings = Settings(database_url=url, directory=directory, auto_migrate=True)
        async with App(settings, adapters=[adapter]) as app:
            year = app.clock().year
            console.print(Rule("[bold]" + _t("wisbot demo: the WIS IT-security incident process")))
            for who, room, text, why in SCRIPT:
                command = text.format(year=year)
                console.print(f"\n[dim]{escape(str(why))}[/dim]")
                where = room or _t("a direct message")
                console.print(_t("{who} in {where}: {command}",
                                 who=f"[bold cyan]{who}[/bold cyan]",
                                 where=f"[bold]{where}[/bold]",
                                 command=f"[green]{escape(command)}[/green]"))
                reply = await adapter.type(who, command, room)
                console.print(Panel(Text(render_text(reply)), title=_t("reply to {who}", who=who),
                                    expand=False))
                await app.outbox.drain()
            console.print()
            console.print(Rule("[bold]" + _t("What each room received, in the order told")))
            views: dict[str, str] = {}
            for bound, how in await _rooms_in_cascade_order(app, year):
                text = adapter.transcript(bound.target)
                views[bound.key] = text
                count = len(adapter.rooms.get(bound.target, []))
                body = text if text else _t("(nothing)")
                # The key already says the role (gisc-beijing): the title adds what is new.
                console.print(Panel(Text(body), expand=False, title=f"{bound.key} · {how} · "
                                    + ngettext("{n} message", "{n} messages", count)))
            for who, replies in adapter.direct.items():
                console.print(Panel(Text("\n\n".join(render_text(r) for r in replies)),
                                    title=_t("direct to @{who}", who=who), expand=False))
            assert app.store is not None
            left = await app.store.tx(_open_pages)
            console.print()
            if left:
                console.print("[yellow]" + _t("Pages still open: {pages}",
                                              pages=", ".join(left)) + "[/yellow]")
            else:
                console.print(_t("Every page was acknowledged; none is left open."))
    console.print(_t("next: try {command} (README, Quick start) and type `help`.",
                     command="[bold]`wisbot shell --as anna.weber --room member-de`[/bold]"))
    return views


async def _rooms_in_cascade_order(app: App, year: int) -> list[tuple[Room, str]]:
    """Every room in the order the demo's incident was told (its "Told, in order" line),
    with what it read; rooms never told last."""

    def work(session: Session) -> Incident | None:
        return session.exec(select(Incident).where(
            Incident.number == f"WIS-SEC-{year}-1")).first()

    assert app.store is not None
    inc = await app.store.tx(work)
    told = audience(app.directory, exposure(inc)) if inc is not None else []
    keys = {room.key for room, _ in told}
    return [(room, _t("anonymised") if vis is Vis.ANONYMOUS else _t("named"))
            for room, vis in told] \
        + [(room, _t("not told")) for room in app.directory.rooms if room.key not in keys]


def _open_pages(session: Session) -> list[str]:
    """Pages nobody acknowledged (open, or stopped before anyone did)."""
    return [f"P-{p.id}" for p in session.exec(select(Page).where(
        col(Page.acked_at).is_(None)).order_by(col(Page.id))).all()]
