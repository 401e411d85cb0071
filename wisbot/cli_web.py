"""``wisbot web``: serve the web facility alone (no chat, no scheduled jobs: `wisbot run`
does those), and ``wisbot web logout-all`` to end a person's web sessions."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from wisbot.errors import WisbotError
from wisbot.settings import Settings

web_app = typer.Typer(help="The web facility: serve it, end a person's sessions.",
                      invoke_without_command=True)

DbOpt = Annotated[str | None, typer.Option(help="Override WISBOT_DATABASE_URL.")]
DirOpt = Annotated[Path | None, typer.Option("--directory", "-d", help="Directory YAML.")]


def web_only(settings: Settings) -> Settings:
    """The settings of a process that only serves pages: everything else is `wisbot run`'s."""
    return settings.model_copy(update={
        "watch_enabled": False, "wismon_port": None, "metrics_port": None,
        "alerts_port": None, "wmem_brokers": [], "jira_url": None, "web_enabled": False})


@web_app.callback()
def web(ctx: typer.Context,
        host: Annotated[str | None, typer.Option(help="Address to bind (default: "
                                                 "WISBOT_WEB_HOST, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default: WISBOT_WEB_PORT, "
                                                 "8080).")] = None,
        directory: DirOpt = None, database_url: DbOpt = None) -> None:
    """Serve the web facility (loopback by default: put a TLS reverse proxy in front, see
    docs/web.md) until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    from wisbot.cli import _fail, _logging, _require_database, _settings

    try:
        settings = _settings(directory, database_url)
        _require_database(settings.database_url, creating=settings.auto_migrate)
        from wisbot.web.server import check_dev_mode

        check_dev_mode(host or settings.web_host, settings.web_dev)
    except Exception as exc:
        raise _fail(exc) from None
    _logging(settings.log_level)

    async def main() -> None:
        from wisbot.app import App
        from wisbot.web.server import WebServer

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with App(web_only(settings), adapters=[], run_worker=False) as bot:
            server = WebServer(bot, host=host, port=port)
            url = await server.start()
            typer.echo(f"wisbot web facility at {url} (Ctrl-C stops)")
            try:
                await stop.wait()
            finally:
                await server.stop()

    try:
        asyncio.run(main())
    except (WisbotError, OSError, ValueError) as exc:
        raise _fail(exc) from None


@web_app.command("logout-all")
def logout_all(contact: Annotated[str, typer.Argument(help="The person's contact id (the "
                                                      "directory's contacts: id).")],
               directory: DirOpt = None, database_url: DbOpt = None) -> None:
    """End every web session of a person, in every browser (a lost laptop, a departure)."""
    from wisbot.cli import _fail, _require_database, _settings
    from wisbot.clock import utcnow
    from wisbot.store.engine import Store
    from wisbot.web.auth import logout_all as revoke_all

    try:
        settings = _settings(directory, database_url)
        _require_database(settings.database_url, creating=False)
        store = Store(settings.database_url)
        try:
            store.check_migrated()
            n = store.run(lambda s: revoke_all(s, contact, utcnow()))
        finally:
            store.close()
    except Exception as exc:
        raise _fail(exc) from None
    typer.echo(f"{n} web session(s) of {contact} ended.")
    logging.getLogger(__name__).info("web: every session of %s ended from the CLI", contact)
