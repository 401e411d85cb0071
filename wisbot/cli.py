"""The ``wisbot`` command line."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wisbot import cli_help
from wisbot.errors import WisbotError
from wisbot.i18n import _ as _t

if TYPE_CHECKING:
    from wisbot.services.exchange import ExchangeService
    from wisbot.settings import Settings
    from wisbot.store.engine import Store

app = typer.Typer(help="wisbot: the WIS IT-security incident process and GISC Watch in closed "
                  "chat rooms.", no_args_is_help=True, rich_markup_mode="rich")
directory_app = typer.Typer(help="Check, export and preview the directory.",
                            no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
watch_app = typer.Typer(help="GISC Watch reports.", no_args_is_help=True)
roster_app = typer.Typer(help="The GISC Watch roster.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
slack_app = typer.Typer(help="The Slack app: its manifest, and a check of the workspace "
                        "before going live.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(watch_app, name="watch")
app.add_typer(roster_app, name="roster")
exchange_app = typer.Typer(help="Near-real-time exchange: spot new global-exchange records, "
                           "dispute case files.", no_args_is_help=True)
app.add_typer(exchange_app, name="exchange")
report_app = typer.Typer(help="Service reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(slack_app, name="slack")
matrix_app = typer.Typer(help="Matrix: provision the directory's rooms.", no_args_is_help=True)
app.add_typer(matrix_app, name="matrix")
outbox_app = typer.Typer(help="The outbox: dead letters and pending messages; resend or "
                         "discard them.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
from wisbot.cli_export import export_app  # noqa: E402  (issue 14: MISP/STIX exports)

app.add_typer(export_app, name="export")
from wisbot.cli_models import models_app  # noqa: E402  (issue 17: incident models)

app.add_typer(models_app, name="models")
from wisbot.cli_web import web_app  # noqa: E402  (issue 16: the web facility)

app.add_typer(web_app, name="web")
console = Console()
err = Console(stderr=True)
cli_help.install()

DirectoryOpt = Annotated[Path | None, typer.Option(
    "--directory", "-d", help="Directory YAML (default: WISBOT_DIRECTORY or directory.yaml).")]
DatabaseOpt = Annotated[str | None, typer.Option(
    help="Database URL (default: WISBOT_DATABASE_URL or sqlite:///wisbot.db).")]


def _version(value: bool) -> None:
    if value:
        from wisbot import __version__

        typer.echo(f"wisbot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True,
        help="Print wisbot's version and exit.")] = False) -> None:
    """wisbot: the WIS IT-security incident process and GISC Watch in closed chat rooms."""


def _settings(directory: Path | None = None, database_url: str | None = None):  # type: ignore[no-untyped-def]
    from wisbot.settings import load_settings

    overrides: dict[str, object] = {}
    if directory is not None:
        overrides["directory"] = directory
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = load_settings(**overrides)
    from wisbot import i18n
    from wisbot.settings_errors import unknown_environment

    i18n.set_default(settings.language)  # the terminal reads the deployment's language

    for warning in unknown_environment(type(settings).model_fields):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    return settings


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
    return typer.Exit(code=2)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Their start-up chatter at INFO drowns wisbot's own lines (matrix-nio logs a line per
    # state event of every room at each start).
    for noisy in ("alembic", "apscheduler", "nio", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@app.command()
def run(directory: DirectoryOpt = None,
        database_url: Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
        = None) -> None:
    """Run the bot with the configured adapters (WISBOT_ADAPTERS) until stopped; SIGHUP
    loads the directory file again (a bad file is refused, the old directory stays)."""
    try:
        settings = _settings(directory, database_url)
        _require_database(settings.database_url, creating=settings.auto_migrate)
    except Exception as exc:
        raise _fail(exc) from None
    _logging(settings.log_level)

    async def main() -> None:
        from wisbot.app import App

        log = logging.getLogger("wisbot")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        running: list[App] = []
        reloads: set[asyncio.Task[None]] = set()

        async def reload(bot: App) -> None:
            try:
                changes = await bot.reload_directory()
            except WisbotError as exc:
                log.error("SIGHUP: directory not reloaded, the one in use stays: %s", exc)
            except Exception:
                log.exception("SIGHUP: directory not reloaded, the one in use stays")
            else:
                log.info("SIGHUP: directory reloaded: %s", "; ".join(changes) or "no change")

        def on_hup() -> None:
            if not running:  # SIGHUP's default would end the process while it starts
                log.warning("SIGHUP before wisbot finished starting: ignored; send it again")
                return
            task = asyncio.create_task(reload(running[0]))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        bot = App(settings)
        # a chat server still unreachable at start is waited for; a stop ends the wait
        starting = asyncio.create_task(bot.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            log.info("stopped before wisbot finished starting")
            try:
                await bot.stop()
            except Exception as exc:  # what had started is being torn down anyway
                log.warning("while stopping a start cut short: %s", exc)
            return
        stopping.cancel()
        starting.result()  # a start that failed raises here
        try:
            log.info("wisbot running with %s", ", ".join(bot.adapters))
            running.append(bot)
            await stop.wait()
            running.clear()
            for task in list(reloads):
                await task
        finally:
            await bot.stop()

    try:
        asyncio.run(main())
    except (WisbotError, ValueError) as exc:  # ValueError: an adapter's settings are wrong
        raise _fail(exc) from None


@app.command()
def shell(as_: Annotated[str, typer.Option("--as", help="The directory contact you act as "
                                          "(a contacts: id of the directory file).")],
          room: Annotated[str | None, typer.Option(help="Room key you type in (default: a "
                                                   "direct conversation).")] = None,
          directory: DirectoryOpt = None,
          database_url: DatabaseOpt = None) -> None:
    """Type commands as a contact; every room's traffic is printed as \\[room] text. On a
    terminal: arrows and history; Ctrl-C clears the line; Ctrl-D (or Ctrl-C twice) leaves."""
    from wisbot import shell as sh
    from wisbot.directory import load_directory

    try:
        settings = _settings(directory, database_url)
        _require_database(settings.database_url, creating=settings.auto_migrate)
        pre = sh.preflight(load_directory(settings.directory), settings.directory, as_, room)
    except Exception as exc:
        raise _fail(exc) from None
    for warning in pre.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    tty = sys.stdin.isatty() and sys.stdout.isatty()

    def echo(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    async def main() -> int:
        from wisbot.adapters.console import ConsoleAdapter
        from wisbot.app import App

        adapter = ConsoleAdapter(sh.CURRENT_STDOUT)
        async with App(settings, adapters=[adapter]) as bot:
            console.print(f"wisbot shell as [bold]{escape(pre.contact.name)}[/bold] in "
                          f"[bold]{escape(room or 'a direct conversation')}[/bold]. Type "
                          "`help`; Ctrl-D to leave.")
            if tty:
                return await sh.run_tty(bot, pre, echo,
                                        history=sh.history_path(settings.database_url))
            return await sh.run_piped(bot, pre, echo)

    try:
        code = asyncio.run(main())
    except WisbotError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:  # Ctrl-C while a command ran, or in a pipe
        console.print("\n" + _t("{left} (interrupted)", left=sh.LEAVE_WORD), highlight=False,
                      markup=False)
        raise typer.Exit(code=130) from None
    raise typer.Exit(code=code)


@app.command()
def demo() -> None:
    """Run the scripted incident flow on a throw-away SQLite database and print every
    room's view. Needs no terminal and no configuration."""
    from wisbot.demo import run_demo

    asyncio.run(run_demo(console))


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
           directory: DirectoryOpt = None,
           database_url: Annotated[str | None, typer.Option(
               help="Override WISBOT_DATABASE_URL.")] = None) -> None:
    """wisbot's state from the database: leader and replicas, outbox depth and age, dead
    letters, held rooms, open pages and their next step, last and next scheduled runs,
    who is on call now."""
    import json

    from wisbot.directory import Directory, load_directory
    from wisbot.services.status import collect
    from wisbot.store.engine import Store

    try:
        settings = _settings(directory, database_url)
        _require_database(settings.database_url, creating=False)
        store = Store(settings.database_url)
    except Exception as exc:
        raise _fail(exc) from None
    d: Directory | None = None
    try:
        d = load_directory(settings.directory)
    except WisbotError as exc:  # the state is still worth seeing; say why on-call is missing
        err.print(f"[yellow]warning:[/yellow] {exc} (on call now: not shown)")
    try:
        store.check_migrated()
        result = store.run(lambda s: collect(s, d, settings))
    except WisbotError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    names = {str(c.id): c.name for c in d.contacts} if d is not None else {}
    for line in result.lines(names):
        typer.echo(line)


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
           directory: DirectoryOpt = None,
           database_url: Annotated[str | None, typer.Option(
               help="Override WISBOT_DATABASE_URL.")] = None) -> None:
    """Check the set-up: the database schema, the directory file, the Matrix login and
    whether Synapse exempts the bot from its rate limits. Exits 1 when something is
    wrong; a check that cannot tell says so and how to find out."""
    import json

    from wisbot.directory import load_directory
    from wisbot.services.status import Check, matrix_checks
    from wisbot.store.engine import Store

    try:
        settings = _settings(directory, database_url)
    except Exception as exc:
        raise _fail(exc) from None
    checks: list[Check] = []
    try:
        _require_database(settings.database_url, creating=False)
        store = Store(settings.database_url)
        try:
            store.check_migrated()
            checks.append(Check("database", "ok", "reachable, schema up to date"))
        finally:
            store.close()
    except Exception as exc:
        checks.append(Check("database", "error", str(exc)))
    try:
        d = load_directory(settings.directory)
        checks.append(Check("directory", "ok", f"{settings.directory}: {len(d.members)} "
                            f"Members, {len(d.contacts)} contacts, {len(d.rooms)} rooms"))
    except WisbotError as exc:
        checks.append(Check("directory", "error", str(exc)))
    if "matrix" in settings.adapters or settings.matrix_homeserver:
        if not settings.matrix_homeserver or not settings.matrix_user_id:
            checks.append(Check("matrix", "error", "set WISBOT_MATRIX_HOMESERVER and "
                                "WISBOT_MATRIX_USER_ID"))
        else:
            token = settings.matrix_access_token
            password = settings.matrix_password
            checks += asyncio.run(matrix_checks(
                settings.matrix_homeserver, settings.matrix_user_id,
                access_token=token.get_secret_value() if token else None,
                password=password.get_secret_value() if password else None))
    if as_json:
        typer.echo(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        marks = {"ok": "ok  ", "warning": "WARN", "error": "FAIL", "unknown": "??  "}
        for c in checks:
            typer.echo(f"{marks.get(c.level, c.level)} {c.name}: {c.detail}")
    if any(c.level == "error" for c in checks):
        raise typer.Exit(code=1)


@directory_app.command("check")
def directory_check(
    file: Annotated[Path | None, typer.Argument(
        help="The directory file (default: --directory, WISBOT_DIRECTORY or "
        "directory.yaml).")] = None,
    directory: DirectoryOpt = None,
) -> None:
    """Validate a directory file; errors name the file, the entry and the field."""
    from wisbot.directory import load_directory

    if file is None:
        try:
            file = _settings(directory).directory
        except Exception as exc:
            raise _fail(exc) from None
    try:
        d = load_directory(file)
    except WisbotError as exc:
        err.print(f"[bold red]{file} is not valid:[/bold red]")
        for problem in getattr(exc, "problems", [str(exc)]):
            err.print(f"  • {escape(problem)}")
        raise typer.Exit(code=1) from None
    console.print(f"[green]{file} is valid:[/green] {len(d.members)} Members, {len(d.centres)} "
                  f"centres, {len(d.giscs)} GISCs, {len(d.contacts)} contacts, "
                  f"{len(d.rooms)} rooms.")
    from wisbot.domain.reach import check_warnings

    for line in check_warnings(d):
        typer.echo(f"WARN {line}", err=True)


@directory_app.command("schema")
def directory_schema_cmd() -> None:
    """Print the directory's JSON Schema."""
    from wisbot.directory import directory_schema_json

    typer.echo(directory_schema_json())


@directory_app.command("centres")
def directory_centres(
    member: Annotated[str, typer.Argument(help="a Member's code, name or acronym")],
    directory: DirectoryOpt = None,
) -> None:
    """List a Member's centres: the codes `incident report` and `directory preview` take
    (chat: `incident centres <Member>`)."""
    from wisbot.directory import _unknown, load_directory

    try:
        d = load_directory(_settings(directory).directory)
        found = d.find_member(member)
        if found is None:
            raise WisbotError(_unknown("Member", member,
                                       [x for m in d.members for x in (m.code, m.name)]))
    except (WisbotError, ValueError) as exc:
        raise _fail(exc) from None
    table = Table(title=f"Centres of {found.name} ({found.code})")
    for col in ("code", "name", "kind", "principal GISC"):
        table.add_column(col)
    for c in d.centres_of(found.code):
        table.add_row(c.code, c.name, c.kind, c.principal_gisc)
    console.print(table)


@directory_app.command("preview")
def directory_preview(
    centre: str,
    share: Annotated[str, typer.Argument(help="share=secretariat|principal-gisc|all-giscs|group")],
    anonymous: Annotated[str | None, typer.Argument(help="'anonymous' to anonymise")] = None,
    directory: DirectoryOpt = None,
) -> None:
    """Show, without sending anything, which rooms an incident at CENTRE would reach and
    what each would read."""
    from wisbot.directory import load_directory
    from wisbot.domain.confidentiality import Exposure, Share, Vis
    from wisbot.services.incidents import audience

    try:
        settings = _settings(directory)
        d = load_directory(settings.directory)
        c = d.centre(centre)
        level = Share.parse(share.removeprefix("share="))
        if anonymous not in (None, "anonymous"):
            raise WisbotError(f"expected 'anonymous' or nothing, not {anonymous!r}")
    except (WisbotError, ValueError) as exc:
        raise _fail(exc) from None
    exp = Exposure(c.member, c.principal_gisc, level, anonymous == "anonymous")
    member = d.member(c.member)
    table = Table(title=f"Incident at {c.code}, share={level.value}"
                  f"{' anonymous' if exp.anonymous else ''}")
    for col in ("#", "room", "role", "platform", "reads"):
        table.add_column(col)
    for i, (room, vis) in enumerate(audience(d, exp), 1):
        reads = (f"a WIS centre in the area of GISC {c.principal_gisc}"
                 if vis is Vis.ANONYMOUS else f"{c.name} ({c.code}, {member.name})")
        table.add_row(str(i), room.key, room.role, room.platform, reads)
    console.print(table)
    told = {r.key for r, _ in audience(d, exp)}
    quiet = [r.key for r in d.rooms if r.key not in told]
    console.print(f"Not told: {', '.join(quiet) or 'none'}")
    if exp.anonymous:
        from wisbot.commands.incident import anonymity_warning

        warning = anonymity_warning(d, c.principal_gisc)
        if warning:
            console.print(f"[bold yellow]Warning:[/bold yellow] {warning}")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None,
               revision: Annotated[str, typer.Option(help="Target revision.")] = "head") -> None:
    """Create or migrate the database to the schema this wisbot needs."""
    from sqlalchemy.engine import make_url

    from wisbot.store.engine import upgrade

    try:
        settings = _settings(database_url=database_url)
    except WisbotError as exc:
        raise _fail(exc) from None
    upgrade(settings.database_url, revision)
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    console.print(f"[green]database {shown} is at {revision}[/green]")


@db_app.command("current")
def db_current(database_url: DatabaseOpt = None) -> None:
    """Show the database's schema revision and the one this wisbot needs."""
    from wisbot.store.engine import (
        current_revision,
        describe_revision,
        head_revision,
        make_engine,
        revisions_behind,
    )

    try:
        settings = _settings(database_url=database_url)
        _require_database(settings.database_url, creating=False)
    except Exception as exc:
        raise _fail(exc) from None
    engine = make_engine(settings.database_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    behind = revisions_behind(current)
    state = ("up to date" if behind == 0 else
             f"{behind} migration(s) behind: run `wisbot db upgrade`" if behind else
             "not a revision this wisbot knows")
    console.print(f"database: {describe_revision(current)}; needed: "
                  f"{describe_revision(head_revision())}; {state}", markup=False,
                  highlight=False)


def _require_database(url: str, *, creating: bool) -> None:
    """A SQLite file that does not exist is not created by reading it (a typo in a folder
    would leave an empty wisbot.db behind)."""
    from sqlalchemy.engine import make_url

    from wisbot.store.engine import is_sqlite

    if creating or not is_sqlite(url):
        return
    database = make_url(url).database
    if database and database != ":memory:" and not Path(database).exists():
        raise WisbotError(f"no database at {Path(database).resolve()}: create it with "
                          "`wisbot db upgrade` (or point WISBOT_DATABASE_URL or "
                          "--database-url at yours)")


def _offline_app(directory: Path | None, database_url: str | None):  # type: ignore[no-untyped-def]
    """An App with no chat adapter, no outbox worker and no scheduler: for CLI commands
    that read or change the store (messages they cause wait in the outbox for `run`)."""
    from wisbot.app import App

    settings = _settings(directory, database_url).model_copy(update={"watch_enabled": False,
                                                                     "wismon_port": None})
    _require_database(settings.database_url, creating=settings.auto_migrate)
    return App(settings, adapters=[], run_worker=False)


@watch_app.command("report")
def watch_report(
    start: Annotated[str | None, typer.Option("--from", help="First day, 2026-03-01 or "
                                              "01/03/2026 (default: the current period).")]
    = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: today or the "
                                            "period's end).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or csv.")] = "md",
    directory: DirectoryOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Print the GISC Watch summary report (template table, footer, Global Services at the
    start and end of the period, ticket activity) as Markdown or CSV."""
    from wisbot.services.watch import parse_day

    if fmt not in ("md", "csv"):
        raise _fail(ValueError(f"--format must be md or csv, not {fmt!r}"))

    async def main() -> str:
        async with _offline_app(directory, database_url) as bot:
            rep = await bot.services.watch.report(parse_day(start) if start else None,
                                                  parse_day(end) if end else None)
            text: str = rep.markdown() if fmt == "md" else rep.csv()
            return text

    try:
        typer.echo(asyncio.run(main()), nl=False)
    except WisbotError as exc:
        raise _fail(exc) from None


@roster_app.command("import")
def roster_import(file: Path, directory: DirectoryOpt = None,
                  database_url: DatabaseOpt = None) -> None:
    """Import the official roster CSV (gisc_name,start_date,end_date) as published."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(ValueError(f"cannot read {file}: {exc.strerror}")) from None

    from wisbot.domain.watch import RosterImport

    async def main() -> RosterImport:
        async with _offline_app(directory, database_url) as bot:
            done: RosterImport = await bot.services.watch.import_roster(text, source=file.name)
            return done

    try:
        result = asyncio.run(main())
    except WisbotError as exc:
        raise _fail(exc) from None
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if result.periods:
        console.print(f"[green]imported {len(result.periods)} periods[/green], "
                      f"{result.periods[0].start} to {result.periods[-1].end}")


@app.command("probe")
def probe_cmd(target: Annotated[str | None, typer.Argument(help="A GISC, a service kind "
                                                            "or a WIS 2.0 service id.")] = None,
              record: Annotated[bool, typer.Option(
                  "--record", help="Also store the results like the daily run: open or "
                  "update watch tickets and queue the posts to the GISC rooms (the running "
                  "bot delivers them).")] = False,
              directory: DirectoryOpt = None,
              database_url: DatabaseOpt = None) -> None:
    """Probe now and print the results. Nothing is stored, no ticket is opened and no room
    is told unless --record is given."""
    from wisbot.probes.model import ProbeResult
    from wisbot.services.watch import WatchService

    async def main() -> tuple[ProbeResult, ...]:
        async with _offline_app(directory, database_url) as bot:
            watch: WatchService = bot.services.watch
            if record:
                return (await watch.run("manual", target)).results
            return await watch.probe_only(target)

    try:
        results = asyncio.run(main())
    except WisbotError as exc:
        raise _fail(exc) from None
    table = Table(title="Probe results" + (" (recorded)" if record else
                                           " (not recorded: --record stores them)"))
    for col in ("centre", "service", "status", "latency", "figure", "reason"):
        table.add_column(col)
    for r in results:
        table.add_row(r.centre, r.service.value, r.status.value,
                      f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "–",
                      f"{r.figure:,.0f}" if r.figure is not None else "–", r.reason or "")
    console.print(table)
    if any(not r.ok for r in results):
        raise typer.Exit(code=1)


@report_app.command("annual")
def report_annual(
    year: Annotated[int | None, typer.Argument(
        help="The year; default: this year (UTC), as `incident stats` in chat.")] = None,
    format: Annotated[str, typer.Option("--format", "-f",
                                        help="md (default), csv or json")] = "md",
    database_url: Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
    = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to a file instead of stdout.")]
    = None,
) -> None:
    """The annual service report: incidents by severity and month, time to notify and to
    acknowledge (median, 90th percentile, share within 1 hour), pages that reached the
    Secretariat step, hours the pager ran. Incidents count at their highest severity."""
    from wisbot.clock import utcnow
    from wisbot.services.reports import annual_report, to_csv, to_json, to_markdown
    from wisbot.store.engine import Store

    renderers = {"md": to_markdown, "csv": to_csv, "json": to_json}
    if format not in renderers:
        raise _fail(ValueError(f"--format must be md, csv or json, not {format!r}"))
    try:
        settings = _settings(database_url=database_url)
        _require_database(settings.database_url, creating=False)
        store = Store(settings.database_url)
    except Exception as exc:
        raise _fail(exc) from None
    try:
        store.check_migrated()
        now = utcnow()
        which = year if year is not None else now.year
        text = renderers[format](store.run(lambda s: annual_report(s, which, now)))
    except WisbotError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"[green]wrote {output}[/green]")
    else:
        typer.echo(text, nl=False)


@slack_app.command("manifest")
def slack_manifest(
    request_url: Annotated[str | None, typer.Option(
        help="HTTP mode: the public https://…/slack/events URL (default: Socket Mode).")]
        = None,
    name: Annotated[str, typer.Option(help="The app's and bot user's name.")] = "wisbot",
    command_prefix: Annotated[str | None, typer.Option(
        help="Prefix of the slash commands, e.g. wis- for /wis-incident (default: "
        "WISBOT_SLACK_COMMAND_PREFIX, none).")] = None,
    allow_http_loopback: Annotated[bool, typer.Option(
        "--allow-http-loopback", help="Accept an http://127.0.0.1… request URL (local "
        "development only; Slack itself posts only to https).")] = False,
) -> None:
    """Print the Slack app manifest (commands, scopes, events, App Home, Socket Mode,
    interactivity), generated from the command registry; deploy/slack-manifest.yaml is
    this output."""
    from wisbot.adapters.slack_manifest import check_request_url, manifest_yaml
    from wisbot.commands import build_registry

    try:
        if request_url is not None:
            check_request_url(request_url, allow_http_loopback=allow_http_loopback)
        if command_prefix is None:
            command_prefix = _settings().slack_command_prefix
    except (ValueError, WisbotError) as exc:
        raise _fail(exc) from None
    typer.echo(manifest_yaml(build_registry(), name=name, request_url=request_url,
                             command_prefix=command_prefix), nl=False)


@slack_app.command("check")
def slack_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
    directory: DirectoryOpt = None,
) -> None:
    """Check the workspace before going live: the bot token (auth.test), the bot is in
    each bound channel, closed rooms are private channels without strangers, every
    bound person exists. Posts nothing; exits 1 when something is wrong."""
    import json

    from wisbot.adapters.slack_check import check_workspace
    from wisbot.directory import load_directory

    try:
        settings = _settings(directory)
        d = load_directory(settings.directory)
        from pydantic import SecretStr

        from wisbot.adapters.slack import SlackAdapter

        # only the Web API is used: no Socket Mode or HTTP endpoint is started
        adapter = SlackAdapter.from_settings(settings.model_copy(update={
            "slack_mode": "http", "slack_signing_secret": settings.slack_signing_secret
            or SecretStr("unused")}), directory=d)
        findings = asyncio.run(check_workspace(adapter, d))
    except (WisbotError, ValueError, ImportError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        marks = {"ok": "ok  ", "warning": "WARN", "error": "FAIL"}
        for f in findings:
            typer.echo(f"{marks[f.level]} {f.subject}: {f.detail}")
        bad = sum(1 for f in findings if f.level == "error")
        typer.echo(f"{bad} problem(s)" if bad else "ready: no problem found")
    if any(f.level == "error" for f in findings):
        raise typer.Exit(code=1)


@slack_app.command("topics")
def slack_topics(file: Path) -> None:
    """Print the topic to set on each bound Slack channel: the strictest TLP it may
    receive (Slack: channel details → Topic)."""
    from wisbot.directory import load_directory
    from wisbot.domain.tlp import room_topic

    try:
        rooms = load_directory(file).rooms
    except WisbotError as exc:
        err.print(f"[bold red]{file} is not valid:[/bold red] {exc}")
        raise typer.Exit(code=1) from None
    for room in rooms:
        if room.platform == "slack":
            typer.echo(f"{room.key}\t{room.address}\t{room_topic(room.role)}")


@matrix_app.command("provision")
def matrix_provision(
    directory: Annotated[Path, typer.Option("--directory", "-d",
                                            help="Directory YAML; room ids are written back.")],
    state: Annotated[Path | None, typer.Option(
        "--state", help="Where each room id is written as soon as the room exists "
        "(default: DIRECTORY.matrix-rooms.yaml beside the directory, or in the current "
        "folder when the directory's folder is read-only).")] = None,
    tighten: Annotated[bool, typer.Option(
        "--tighten", help="Also make rooms that already have an address closed: only the "
        "bot invites and changes settings, invite-only, history from each member's join, "
        "no guests.")] = False,
) -> None:
    """Create the directory's Matrix rooms that have no address yet (closed: only the bot
    may invite or change settings, history for members from their own join, no guests;
    encrypted when `encrypted: true`), invite their audience, and write the room ids back
    into the file. Each id is first written to a state file the moment its room exists, so
    a run that fails half-way can simply be run again; rate limits are waited out."""
    import yaml

    try:
        settings = _settings(directory)
        if not settings.matrix_homeserver or not settings.matrix_user_id:
            raise WisbotError("set WISBOT_MATRIX_HOMESERVER and WISBOT_MATRIX_USER_ID (and "
                              "WISBOT_MATRIX_PASSWORD or WISBOT_MATRIX_ACCESS_TOKEN)")
        data = yaml.safe_load(directory.read_text(encoding="utf-8"))
        state_path = state or _provision_state_path(directory)
        known = _read_room_ids(state_path)
    except (WisbotError, OSError, yaml.YAMLError) as exc:
        raise _fail(exc) from None
    # ids a failed earlier run stored but could not write into the directory
    restored = 0
    for raw in data.get("rooms", []):
        if raw.get("platform") == "matrix" and not raw.get("address") and raw["key"] in known:
            raw["address"] = known[raw["key"]]
            restored += 1
    if restored:
        console.print(f"{restored} room id(s) taken from {state_path}")

    def store_id(key: str, room_id: str) -> None:
        known[key] = room_id
        _write_atomic(state_path, yaml.safe_dump(known, sort_keys=True))

    def progress(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    async def main() -> dict[str, str]:
        from nio import AsyncClient, AsyncClientConfig, ErrorResponse

        from wisbot.adapters.matrix import provision

        hs, user = settings.matrix_homeserver, settings.matrix_user_id
        assert hs is not None and user is not None
        # 429s come back to provision (which waits and says so), not retried silently
        config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=3)
        client = AsyncClient(hs, user, device_id=settings.matrix_device_id, config=config)
        try:
            if settings.matrix_access_token:
                client.restore_login(user, settings.matrix_device_id,
                                     settings.matrix_access_token.get_secret_value())
            elif settings.matrix_password:
                resp = await client.login(settings.matrix_password.get_secret_value(),
                                          device_name="wisbot")
                if isinstance(resp, ErrorResponse):
                    raise WisbotError(f"login as {user} failed: {resp.message}")
            else:
                raise WisbotError("set WISBOT_MATRIX_PASSWORD or WISBOT_MATRIX_ACCESS_TOKEN")
            return await provision(client, data, on_room=store_id, progress=progress,
                                   tighten_existing=tighten)
        finally:
            await client.close()

    try:
        made = asyncio.run(main())
    except (WisbotError, ImportError, OSError) as exc:
        raise _fail(exc) from None
    except Exception as exc:
        from wisbot.adapters.base import DeliveryError

        if not isinstance(exc, DeliveryError):
            raise
        raise _fail(WisbotError(f"{exc}; the ids of the rooms made so far are in "
                                f"{state_path}: run the command again to continue")) from None
    if not made and not restored:
        console.print("Every Matrix room already has an address; nothing to do.")
        return
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        _write_in_place(directory, text)
    except OSError as exc:
        rooms = yaml.safe_dump({"rooms": data.get("rooms", [])}, sort_keys=False,
                               allow_unicode=True)
        console.print(f"[yellow]cannot write {directory} ({exc.strerror or exc}); the room "
                      f"ids are in {state_path}. Replace the directory's rooms with:"
                      "[/yellow]")
        console.print(rooms, markup=False, highlight=False)
        return
    console.print(f"[green]{len(made)} room(s) created or completed[/green]; {directory} "
                  "updated.")


def _provision_state_path(directory: Path) -> Path:
    import os

    name = directory.name + ".matrix-rooms.yaml"
    folder = directory.resolve().parent
    return folder / name if os.access(folder, os.W_OK) else Path.cwd() / name


def _read_room_ids(path: Path) -> dict[str, str]:
    import yaml

    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise WisbotError(f"{path} is not a room key → room id mapping")
    return {str(k): str(v) for k, v in raw.items()}


def _write_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="." + path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_in_place(path: Path, text: str) -> None:
    """Replace the file atomically when its folder is writable; else (a bind-mounted file,
    a read-only folder) write the file itself; no backup file beside it."""
    try:
        _write_atomic(path, text)
    except OSError:
        with path.open("w", encoding="utf-8") as fh:
            fh.write(text)


def _exchange_service(settings: Settings) -> tuple[Store, ExchangeService]:
    from wisbot.clock import utcnow
    from wisbot.directory import load_directory
    from wisbot.services.exchange import ExchangeConfig, ExchangeService
    from wisbot.services.exchange_mail import SmtpMailer
    from wisbot.store.engine import Store

    directory = load_directory(settings.directory)
    _require_database(settings.database_url, creating=False)
    store = Store(settings.database_url)
    try:
        store.check_migrated()
    except Exception:
        store.close()
        raise
    svc = ExchangeService(store, directory, utcnow,
                          config=ExchangeConfig.from_settings(settings),
                          mailer=SmtpMailer(settings))
    return store, svc


@exchange_app.command("report")
def exchange_report(
    case: str,
    format: Annotated[str, typer.Option("--format", "-f", help="md (Markdown) or text.")] = "md",
    directory: DirectoryOpt = None,
    database_url: Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
    = None,
) -> None:
    """Print the case file of an exchange dispute: record, figures, positions, timeline."""
    if format not in ("md", "text"):
        raise _fail(WisbotError(f"--format must be md or text, not {format!r}"))
    try:
        settings = _settings(directory, database_url)
        store, svc = _exchange_service(settings)
    except Exception as exc:
        raise _fail(exc) from None

    async def main() -> str:
        text: str = await svc.report_markdown(case)
        return text

    try:
        text = asyncio.run(main())
    except WisbotError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if format == "text":
        text = "\n".join(line.lstrip("#").strip() if line.startswith("#") else line
                         for line in text.splitlines()) + "\n"
    typer.echo(text, nl=False)


@exchange_app.command("spot")
def exchange_spot(
    gisc: Annotated[list[str] | None, typer.Option("--gisc", "-g", help="Harvest only these "
                                                   "GISCs' catalogues (repeatable).")] = None,
    post: Annotated[bool, typer.Option(help="Also queue each GISC's section for its room.")]
    = False,
    directory: DirectoryOpt = None,
    database_url: Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
    = None,
) -> None:
    """Harvest the records added or changed since the last run, keep their state, read the
    volume figures, and print each GISC's new global-exchange records (the daily section)."""
    try:
        settings = _settings(directory, database_url)
        store, svc = _exchange_service(settings)
    except Exception as exc:
        raise _fail(exc) from None
    _logging(settings.log_level)
    # the service logs each report line for `run`; here they are printed once, below
    logging.getLogger("wisbot.services.exchange").setLevel(
        max(logging.WARNING, logging.getLogger().level))

    async def main() -> None:
        from wisbot.adapters.console import render_text

        report = await svc.spot(gisc or None)
        for line in report.lines():
            console.print(line, highlight=False, markup=False)
        for g in svc.directory.giscs:
            section = await svc.daily_section(g.name)
            if section is not None:
                console.print("")
                console.print(render_text(section), highlight=False, markup=False)
        if post:
            posted = await svc.post_daily_sections()
            console.print(f"queued for the rooms of: {', '.join(posted) or 'none'} "
                          "(the running bot delivers them)")

    try:
        asyncio.run(main())
    except WisbotError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


# ----- outbox ---------------------------------------------------------------------------


def _outbox_store(directory: Path | None, database_url: str | None) -> Store:
    from wisbot.store.engine import Store

    settings = _settings(directory, database_url)
    _require_database(settings.database_url, creating=False)
    store = Store(settings.database_url)
    try:
        store.check_migrated()
    except Exception:
        store.close()
        raise
    return store


def _age(then: object) -> str:
    from datetime import UTC, datetime

    if not isinstance(then, datetime):
        return ""
    seconds = (datetime.now(UTC) - (then if then.tzinfo else then.replace(tzinfo=UTC))
               ).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{max(0, seconds):.0f} s"


def _outbox_run(directory: Path | None, database_url: str | None, fn):  # type: ignore[no-untyped-def]
    """Run ``fn(session)`` in one transaction; a clear error (exit 2) on bad input."""
    try:
        store = _outbox_store(directory, database_url)
    except Exception as exc:
        raise _fail(exc) from None
    try:
        return store.run(fn)
    except WisbotError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str, typer.Option(help="dead, pending, delivered, discarded or all.")]
    = "dead",
    room: Annotated[str | None, typer.Option(help="Only this room key (or @contact).")]
    = None,
    limit: Annotated[int, typer.Option(help="At most this many, oldest first.")] = 200,
    directory: DirectoryOpt = None, database_url: DatabaseOpt = None,
) -> None:
    """List outbox messages (dead letters by default): id, room, key, tries, age, error.
    Never their content."""
    from sqlmodel import col, select

    from wisbot.store.tables import OutboxRow

    if status not in ("dead", "pending", "delivered", "discarded", "all"):
        raise _fail(WisbotError(f"--status must be dead, pending, delivered, discarded or "
                                f"all, not {status!r}"))

    def q(session):  # type: ignore[no-untyped-def]
        stmt = select(OutboxRow)
        if status != "all":
            stmt = stmt.where(OutboxRow.status == status)
        if room:
            stmt = stmt.where(OutboxRow.room_key == room)
        return list(session.exec(stmt.order_by(col(OutboxRow.id)).limit(limit)).all())

    rows = _outbox_run(directory, database_url, q)
    table = Table("id", "status", "room", "key", "attempts", "failures", "age", "last error")
    for r in rows:
        table.add_row(str(r.id), r.status, r.room_key, r.key, str(r.attempts),
                      str(r.failures), _age(r.created_at), (r.last_error or "")[:120])
    console.print(table)
    console.print(f"{len(rows)} message(s)" + (f" (limit {limit})" if len(rows) >= limit
                                                else ""))


def _outbox_row(session, row_id: int):  # type: ignore[no-untyped-def]
    from wisbot.store.tables import OutboxRow

    row = session.get(OutboxRow, row_id)
    if row is None:
        raise WisbotError(f"no outbox message with id {row_id}: see `wisbot outbox list`")
    return row


@outbox_app.command("show")
def outbox_show(
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The id from `outbox list`.")],
    content: Annotated[bool, typer.Option(help="Also print the message itself (it may be "
                                          "protected: mind who sees your terminal).")]
    = False,
    directory: DirectoryOpt = None, database_url: DatabaseOpt = None,
) -> None:
    """One outbox message: room, key, status, tries, error, age (content with --content)."""
    from wisbot.reply import Reply

    r = _outbox_run(directory, database_url, lambda s: _outbox_row(s, row_id))
    for name, value in (("id", r.id), ("status", r.status), ("room", r.room_key),
                        ("key", r.key), ("notification", r.notification_id),
                        ("attempts", r.attempts), ("failures", r.failures),
                        ("created", f"{r.created_at} ({_age(r.created_at)} ago)"),
                        ("first failure", r.first_failed_at or "-"),
                        ("next try", r.next_attempt_at if r.status == "pending" else "-"),
                        ("delivered", r.delivered_at or "-"),
                        ("message id", r.message_id or "-"),
                        ("last error", r.last_error or "-")):
        console.print(f"{name + ':':15} {value}", highlight=False, markup=False)
    if content:
        console.print("")
        console.print(Reply.model_validate(r.payload).plain(), highlight=False, markup=False)


@outbox_app.command("retry")
def outbox_retry(
    row_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="A dead letter's id.")]
    = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead letter (with "
                                           "--room: of that room).")] = False,
    room: Annotated[str | None, typer.Option(help="With --all-dead: only this room.")]
    = None,
    directory: DirectoryOpt = None, database_url: DatabaseOpt = None,
) -> None:
    """Queue dead letters again (the running bot sends them, with their original key)."""
    from wisbot.outbox import retry_dead

    if (row_id is None) == (not all_dead) or (room and not all_dead):
        raise _fail(WisbotError("give a dead letter's ID, or --all-dead [--room KEY]"))

    def run(session):  # type: ignore[no-untyped-def]
        if row_id is not None:
            row = _outbox_row(session, row_id)
            if row.status != "dead":
                raise WisbotError(f"message {row_id} is {row.status}, not a dead letter")
        return len(retry_dead(session, row_id=row_id, room_key=room))

    n = _outbox_run(directory, database_url, run)
    console.print(f"{n} dead letter(s) queued again; the running bot delivers them.")


@outbox_app.command("discard")
def outbox_discard(
    row_id: Annotated[int, typer.Argument(metavar="ID", help="A dead or pending message's "
                                          "id.")],
    directory: DirectoryOpt = None, database_url: DatabaseOpt = None,
) -> None:
    """Never send this message (it is kept, with status discarded)."""
    def run(session):  # type: ignore[no-untyped-def]
        row = _outbox_row(session, row_id)
        if row.status not in ("dead", "pending"):
            raise WisbotError(f"message {row_id} is {row.status}: only a dead or pending "
                              "message can be discarded")
        row.status = "discarded"
        session.add(row)
        return row.key

    key = _outbox_run(directory, database_url, run)
    console.print(f"message {row_id} ({key}) discarded.")


def main() -> None:
    app()
