"""``wisbot models``: check the Secretariat's incident models file before `wisbot reload`,
and list the models in use, without a running wisbot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wisbot.errors import DirectoryError

models_app = typer.Typer(help="Incident models: check the Secretariat's file, list them.",
                         no_args_is_help=True)

FileArg = Annotated[Path | None, typer.Argument(
    help="The models file (default: the setting incident_models).")]


def _path(file: Path | None) -> Path | None:
    if file is not None:
        return file
    from wisbot.settings import load_settings

    return load_settings().incident_models


@models_app.command("check")
def check(file: FileArg = None) -> None:
    """Validate the models file as `wisbot reload` would; every problem is named."""
    from wisbot.domain.incident_models import load_models

    path = _path(file)
    try:
        models = load_models(path)
    except DirectoryError as exc:
        typer.echo(f"{exc.source}: not valid, `wisbot reload` would refuse it:", err=True)
        for problem in exc.problems:
            typer.echo(f"  • {problem}", err=True)
        raise typer.Exit(1) from None
    own = [m.key for m in models.values() if path is not None and m.source == str(path)]
    typer.echo(f"{path or 'no models file'}: valid; {len(models)} models"
               + (f", of which from this file: {', '.join(own)}" if own else ""))


@models_app.command("list")
def list_models(file: FileArg = None) -> None:
    """The models: the shipped ones and the file's."""
    from wisbot.domain.incident_models import load_models

    try:
        models = load_models(_path(file))
    except DirectoryError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for m in models.values():
        typer.echo(f"{m.key}\t{m.rsit}\tseverity {m.severity}\t{m.title}\t({m.source})")
