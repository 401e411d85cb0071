"""``wisbot export``: an incident or a lesson as a MISP event or STIX 2.1 bundle, on the
command line. The operator is the Secretariat: by default the export is the Secretariat's
named view; ``--as`` (and ``--room``) render exactly what that person may see there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from wisbot.errors import WisbotError

export_app = typer.Typer(help="Export an incident or a lesson for a CSIRT tool (MISP, STIX "
                         "2.1), as a given person may see it.", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="misp or stix")]
AsOpt = Annotated[str | None, typer.Option(
    "--as", help="Render for this directory contact (default: the first Secretariat "
                 "contact).")]
RoomOpt = Annotated[str | None, typer.Option(
    "--room", help="…typing in this room (a room key; default: a direct chat).")]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o",
                                             help="Write to a file instead of stdout.")]
DbOpt = Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
DirOpt = Annotated[Path | None, typer.Option("--directory", "-d", help="Directory YAML.")]


def _export(what: str, ref: str, fmt: str, as_: str | None, room: str | None,
            output: Path | None, database_url: str | None, directory: Path | None) -> None:
    from wisbot.clock import utcnow
    from wisbot.directory import load_directory
    from wisbot.domain.audience import person_roles
    from wisbot.services.context import Caller
    from wisbot.services.export import FORMATS, ExportService
    from wisbot.services.incidents import IncidentService
    from wisbot.settings import load_settings
    from wisbot.store.engine import Store

    if fmt not in FORMATS:
        raise _fail(f"--format must be {' or '.join(FORMATS)}, not {fmt!r}")
    overrides: dict[str, object] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if directory is not None:
        overrides["directory"] = directory
    try:
        settings = load_settings(**overrides)
        d = load_directory(settings.directory)
        if as_ is None:
            contact = next((c for c in d.contacts if c.is_secretariat), None)
            if contact is None:
                raise _fail("the directory has no Secretariat contact: give --as <contact>")
        else:
            contact = d.contact(as_)
        caller = Caller(contact=contact, room=d.room(room) if room else None,
                        platform="cli", roles=person_roles(d, contact))
        store = Store(settings.database_url)
    except WisbotError as exc:
        raise _fail(str(exc)) from None
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(str(exc)) from None
    try:
        store.check_migrated()
        service = ExportService(store, d, IncidentService(store, d, utcnow))
        if what == "incident":
            _, text = store.run(lambda s: service.incident_document(s, caller, ref, fmt))
        else:
            _, text = store.run(lambda s: service.lesson_document(s, caller, ref, fmt))
    except WisbotError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    if output is not None:
        try:
            _write_private(output, text)
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}") from None
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text)


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only (as the TLP label asks on a shared host), also when the
    file was there before with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@export_app.command("incident")
def export_incident(number: str, fmt: FormatOpt, as_: AsOpt = None, room: RoomOpt = None,
                    output: OutOpt = None, database_url: DbOpt = None,
                    directory: DirOpt = None) -> None:
    """An incident (e.g. WIS-SEC-2026-7) with its indicators and sightings."""
    _export("incident", number, fmt, as_, room, output, database_url, directory)


@export_app.command("lesson")
def export_lesson(lesson: str, fmt: FormatOpt, as_: AsOpt = None, room: RoomOpt = None,
                  output: OutOpt = None, database_url: DbOpt = None,
                  directory: DirOpt = None) -> None:
    """A lesson learned (e.g. L-3) as best practice."""
    _export("lesson", lesson, fmt, as_, room, output, database_url, directory)
