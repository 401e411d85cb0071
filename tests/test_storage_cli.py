"""Storage start-up rules, settings, and the command line as a new user meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from wisbot.app import App
from wisbot.cli import app as cli
from wisbot.errors import NotMigrated
from wisbot.settings import Settings, load_settings
from wisbot.settings_errors import SettingsError
from wisbot.store.engine import Store

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner(env={"COLUMNS": "200"})


async def test_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    app = App(Settings(database_url=url, directory=EXAMPLE))
    with pytest.raises(NotMigrated, match="run `wisbot db upgrade` first"):
        await app.start()


def test_db_upgrade_then_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    result = runner.invoke(cli, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    store = Store(url)
    store.check_migrated()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()
    current = runner.invoke(cli, ["db", "current", "--database-url", url])
    from wisbot.store.engine import head_revision

    assert f"database: {head_revision()}" in current.output


def test_settings_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "wisbot.toml"
    toml.write_text('database_url = "sqlite:///from-toml.db"\npaging_threshold = 4\n'
                    'slack_bot_token = "xoxb-secret"\n', encoding="utf-8")
    monkeypatch.setenv("WISBOT_CONFIG", str(toml))
    monkeypatch.setenv("WISBOT_PAGING_THRESHOLD", "5")
    monkeypatch.setenv("WISBOT_ADAPTERS", "console, matrix")
    s = load_settings()
    assert s.adapters == ["console", "matrix"]
    assert s.database_url == "sqlite:///from-toml.db"
    assert s.paging_threshold == 5  # the environment wins over the file
    assert s.slack_bot_token is not None and "xoxb" not in repr(s)
    assert s.slack_bot_token.get_secret_value() == "xoxb-secret"
    monkeypatch.setenv("WISBOT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"WISBOT_CONFIG names .*missing\.toml"):
        load_settings()


def test_default_database_is_a_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("WISBOT_CONFIG", raising=False)
    assert Settings().database_url.startswith("sqlite:///")


@pytest.mark.parametrize("args", [[], ["run"], ["shell"], ["demo"], ["directory"],
                                  ["directory", "check"], ["directory", "schema"],
                                  ["directory", "preview"], ["db"], ["db", "upgrade"]])
def test_every_command_explains_itself(args: list[str]) -> None:
    result = runner.invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.strip().splitlines()) > 3


def test_directory_check_and_schema() -> None:
    ok = runner.invoke(cli, ["directory", "check", str(EXAMPLE)])
    assert ok.exit_code == 0 and "15 GISCs" in ok.output
    schema = runner.invoke(cli, ["directory", "schema"])
    assert '"title": "wisbot directory"' in schema.output


def test_directory_check_reports_errors(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text(EXAMPLE.read_text().replace("principal_gisc: Tokyo", "principal_gisc: Tokio"),
                   encoding="utf-8")
    result = runner.invoke(cli, ["directory", "check", str(bad)])
    assert result.exit_code == 1
    assert "principal_gisc" in result.output and "did you mean 'Tokyo'" in result.output


def test_directory_preview_sends_nothing_and_shows_each_room() -> None:
    result = runner.invoke(cli, ["directory", "preview", "DE-OF-NC", "share=all-giscs",
                                 "anonymous", "--directory", str(EXAMPLE)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "gisc-offenbach" in out and "gisc-tokyo" in out
    assert "a WIS centre in the area of GISC Offenbach" in out
    assert "Not told: area-offenbach, area-tokyo, collaboration" in out
    bad = runner.invoke(cli, ["directory", "preview", "DE-OF-NC", "share=everyone",
                              "--directory", str(EXAMPLE)])
    assert bad.exit_code == 2 and "unknown share level" in bad.output


def test_run_refuses_unmigrated_database_with_the_command_to_type(tmp_path: Path) -> None:
    env = {**os.environ, "WISBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "WISBOT_DIRECTORY": str(EXAMPLE)}
    proc = subprocess.run([sys.executable, "-m", "wisbot", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "wisbot db upgrade" in proc.stderr


def test_demo_runs_without_a_terminal(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "wisbot", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "WIS-SEC-" in out
    assert "Security incident severity 4 – Systems with some connection" in out
    assert "collaboration · anonymised" in out
    assert "a WIS centre in the area of GISC Offenbach" in out


def test_shell_reads_commands_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    assert runner.invoke(cli, ["db", "upgrade", "--database-url", url]).exit_code == 0
    proc = subprocess.run(
        [sys.executable, "-m", "wisbot", "shell", "--as", "anna.weber", "--room", "member-de",
         "--directory", str(EXAMPLE), "--database-url", url],
        input="incident report DE-OF-NC share=principal-gisc Test from the shell\n"
              "incident list\n", capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[gisc-offenbach] TLP:AMBER+STRICT WIS-SEC-" in proc.stdout
    assert "Test from the shell" in proc.stdout


def test_adapters_json_list_form(monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/matrix.md, docs/slack.md and deploy/compose.yaml once gave the JSON form.
    monkeypatch.delenv("WISBOT_CONFIG", raising=False)
    monkeypatch.setenv("WISBOT_ADAPTERS", '["console", "matrix"]')
    assert load_settings().adapters == ["console", "matrix"]
    monkeypatch.setenv("WISBOT_ADAPTERS", "matrix,slack")
    assert load_settings().adapters == ["matrix", "slack"]


def test_run_with_an_unknown_adapter_is_a_clean_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISBOT_CONFIG", raising=False)
    monkeypatch.setenv("WISBOT_ADAPTERS", "telex")
    monkeypatch.setenv("WISBOT_DIRECTORY", str(EXAMPLE))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert runner.invoke(cli, ["db", "upgrade", "--database-url", url]).exit_code == 0
    result = runner.invoke(cli, ["run", "--database-url", url])
    assert result.exit_code == 2, result.output
    assert "adapter 'telex' is not available" in result.output


def test_run_logging_quiets_matrix_nio() -> None:
    import logging

    from wisbot.cli import _logging

    _logging("INFO")
    assert logging.getLogger("nio").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("nio.rooms").getEffectiveLevel() == logging.WARNING


def test_exchange_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISBOT_CONFIG", raising=False)
    monkeypatch.setenv("WISBOT_EXCHANGE_GISCS", "Offenbach, Tokyo")
    monkeypatch.setenv("WISBOT_EXCHANGE_WISMON_URLS",
                       '["http://127.0.0.1:1/a/monitor.json", "http://127.0.0.1:1/b/monitor.json"]')
    s = load_settings()
    assert s.exchange_giscs == ["Offenbach", "Tokyo"]
    assert s.exchange_wismon_urls == ["http://127.0.0.1:1/a/monitor.json",
                                      "http://127.0.0.1:1/b/monitor.json"]
    monkeypatch.setenv("WISBOT_EXCHANGE_GISCS", "[Offenbach")
    with pytest.raises(ValueError, match="comma-separated"):
        load_settings()


async def test_start_warns_of_rooms_no_adapter_serves(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    matrix_room = tmp_path / "dir.yaml"
    matrix_room.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "- key: member-de\n  role: member:DE\n  platform: console",
        "- key: member-de\n  role: member:DE\n  platform: matrix\n  address: '!de:localhost'"),
        encoding="utf-8")
    app = App(Settings(database_url=f"sqlite:///{tmp_path}/w.db", directory=matrix_room,
                       auto_migrate=True, adapters=["console"], watch_enabled=False))
    with caplog.at_level(logging.WARNING, logger="wisbot.app"):
        await app.start()
        try:
            warnings = [r.getMessage() for r in caplog.records if r.name == "wisbot.app"]
        finally:
            await app.stop()
    assert any("1 room(s) are on matrix" in w and "member-de" in w for w in warnings), warnings
    assert not any("on console" in w for w in warnings), warnings
