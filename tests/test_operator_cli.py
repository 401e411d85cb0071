"""The command line as a new operator meets it (issue 12): `probe` only prints unless
--record, help without type noise, readable schema revisions, no stray empty database,
settings and directory errors that name the file, line and key, one line per spot
report line, and the end-of-run line that explains the skips."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from wisbot.cli import app as cli
from wisbot.settings import load_settings
from wisbot.settings_errors import SettingsError
from wisbot.store.engine import Store

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner(env={"COLUMNS": "200"})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe_directory(tmp_path: Path) -> Path:
    """The example directory where only GISC Offenbach has a probe URL: a closed port."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for g in data["giscs"]:
        g["services"] = ({"portal": f"http://127.0.0.1:{_closed_port()}/"}
                         if g["name"] == "Offenbach" else {})
    data.pop("wis2", None)
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _counts(url: str) -> tuple[int, int, int]:
    from wisbot.store.tables import OutboxRow
    from wisbot.store.watch_tables import ProbeRecord, WatchTicket

    store = Store(url)
    try:
        return store.run(lambda s: (len(s.exec(select(ProbeRecord)).all()),
                                    len(s.exec(select(WatchTicket)).all()),
                                    len(s.exec(select(OutboxRow)).all())))
    finally:
        store.close()


def test_probe_prints_only_unless_record(tmp_path: Path, sqlite_url: str) -> None:
    directory = _probe_directory(tmp_path)
    env = {"WISBOT_WATCH_PROBE_TIMEOUT_S": "3"}
    args = ["probe", "--directory", str(directory), "--database-url", sqlite_url]
    done = runner.invoke(cli, args, env=env)
    assert done.exit_code == 1, done.output  # the probe failed: a non-zero status
    assert "Offenbach" in done.output and "not recorded" in done.output
    assert _counts(sqlite_url) == (0, 0, 0)  # no result, no ticket, no post queued
    done = runner.invoke(cli, [*args, "--record"], env=env)
    assert done.exit_code == 1, done.output
    records, tickets, queued = _counts(sqlite_url)
    assert records >= 1 and tickets >= 1 and queued >= 1
    helped = runner.invoke(cli, ["probe", "--help"])
    assert "--record" in helped.output and "Nothing is stored" in helped.output


@pytest.mark.parametrize("args", [["probe"], ["shell"], ["run"], ["status"], ["doctor"],
                                  ["directory", "check"], ["outbox", "list"],
                                  ["db", "current"], ["db", "upgrade"], ["watch", "report"],
                                  ["roster", "import"], ["exchange", "spot"]])
def test_help_has_no_type_noise_and_names_the_database_option(args: list[str]) -> None:
    done = runner.invoke(cli, [*args, "--help"])
    assert done.exit_code == 0, done.output
    assert "<bool>" not in done.output
    assert "{" not in done.output.splitlines()[1]  # the usage line
    if "--database-url" in done.output:
        line = next(ln for ln in done.output.splitlines() if "--database-url" in ln)
        assert "WISBOT_DATABASE_URL" in line


def test_shell_help_keeps_the_room_brackets() -> None:
    done = runner.invoke(cli, ["shell", "--help"])
    assert "[room] text" in done.output


def test_required_argument_reads_as_a_name() -> None:
    done = runner.invoke(cli, ["roster", "import", "--help"])
    assert "roster import [OPTIONS] FILE" in done.output


def test_db_current_names_revisions_and_how_far_behind(tmp_path: Path) -> None:
    from wisbot.store.engine import head_revision, upgrade

    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url, "0010")
    done = runner.invoke(cli, ["db", "current", "--database-url", url])
    assert done.exit_code == 0, done.output
    assert "0010 (deadlines)" in done.output
    assert "behind" in done.output and "wisbot db upgrade" in done.output
    upgrade(url)
    done = runner.invoke(cli, ["db", "current", "--database-url", url])
    assert f"database: {head_revision()} (" in done.output and "up to date" in done.output


@pytest.mark.parametrize("command, code", [
    (["run"], 2), (["shell", "--as", "anna.weber"], 2), (["db", "current"], 2),
    (["status"], 2), (["doctor"], 1), (["outbox", "list"], 2), (["probe"], 2),
    (["report", "annual", "2026"], 2), (["watch", "report"], 2)])
def test_no_empty_database_left_behind(tmp_path: Path, command: list[str], code: int) -> None:
    db = tmp_path / "wisbot.db"
    done = runner.invoke(cli, [*command, "--database-url", f"sqlite:///{db}"],
                         env={"WISBOT_DIRECTORY": str(EXAMPLE)}, input="")
    assert done.exit_code == code, done.output
    assert not db.exists()
    assert "wisbot db upgrade" in done.output and "Traceback" not in done.output


def test_directory_check_defaults_to_the_configured_file(tmp_path: Path) -> None:
    done = runner.invoke(cli, ["directory", "check"], env={"WISBOT_DIRECTORY": str(EXAMPLE)})
    assert done.exit_code == 0, done.output
    assert "is valid" in done.output
    done = runner.invoke(cli, ["directory", "check"],
                         env={"WISBOT_DIRECTORY": str(tmp_path / "nope.yaml")})
    assert done.exit_code == 1 and "nope.yaml" in done.output


# ----- settings errors -----------------------------------------------------------------

def test_settings_typo_in_file_names_file_line_and_nearest(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    toml = tmp_path / "wisbot.toml"
    toml.write_text('database_url = "sqlite:///x.db"\n\npaging_treshold = 4\n'
                    'query_limit = "many"\n[matrix]\nhomeserver = "https://m.example.org"\n',
                    encoding="utf-8")
    monkeypatch.setenv("WISBOT_CONFIG", str(toml))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert f"{toml}, line 3: unknown setting 'paging_treshold' (did you mean " \
           "'paging_threshold'?)" in text
    assert f"{toml}, line 4, query_limit:" in text and "'many'" in text
    assert "not a [matrix] table" in text
    for raw in ("Extra inputs", "extra_forbidden", "errors.pydantic.dev", "validation error"):
        assert raw not in text


def test_settings_error_from_environment_and_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISBOT_CONFIG", raising=False)
    monkeypatch.setenv("WISBOT_PAGING_THRESHOLD", "9")
    monkeypatch.setenv("WISBOT_ADAPTERS", "[console")
    monkeypatch.setenv("WISBOT_SLACK_BOT_TOKEN", "xoxb-hand-written-secret")
    with pytest.raises(SettingsError) as caught:
        load_settings(query_limit=0)
    text = str(caught.value)
    assert "environment variable WISBOT_PAGING_THRESHOLD:" in text and "'9'" in text
    assert "environment variable WISBOT_ADAPTERS: not a JSON list" in text
    assert "Value error" not in text
    assert "option --query-limit:" in text
    assert "xoxb-hand-written-secret" not in text


def test_unknown_environment_variable_is_warned_with_the_nearest(tmp_path: Path) -> None:
    done = runner.invoke(cli, ["db", "current", "--database-url", f"sqlite:///{tmp_path}/x"],
                         env={"WISBOT_PAGING_TRESHOLD": "4"})
    assert "WISBOT_PAGING_TRESHOLD is not a wisbot setting" in done.output
    assert "did you mean WISBOT_PAGING_THRESHOLD?" in done.output


def test_cli_settings_error_is_one_clear_message(tmp_path: Path) -> None:
    toml = tmp_path / "w.toml"
    toml.write_text("paging_treshold = 4\n", encoding="utf-8")
    for args in (["db", "upgrade"], ["status"], ["run"]):
        done = runner.invoke(cli, args, env={"WISBOT_CONFIG": str(toml)})
        assert done.exit_code == 2, (args, done.output)
        assert "paging_threshold" in done.output and "Traceback" not in done.output
    toml.write_text("paging_threshold = = 4\n", encoding="utf-8")
    done = runner.invoke(cli, ["status"], env={"WISBOT_CONFIG": str(toml)})
    assert done.exit_code == 2 and f"{toml} is not valid TOML" in done.output
    assert "line 1" in done.output


# ----- directory errors ----------------------------------------------------------------

def _example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return data


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_directory_schema_errors_have_lines_and_say_more_may_follow(tmp_path: Path) -> None:
    data = _example()
    data["contacts"][3]["lead"] = "perhaps"
    data["centres"][2]["principal_gisc"] = "Ofenbach"  # a reference: checked later
    path = tmp_path / "dir.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    done = runner.invoke(cli, ["directory", "check", str(path)])
    assert done.exit_code == 1
    out = " ".join(done.output.split())
    assert f"(line {_line_of(text, 'lead: perhaps')})" in out
    assert "more problems may follow" in out
    assert "Value error" not in out and "<unicode string>" not in out


def test_directory_cross_reference_errors_have_lines(tmp_path: Path) -> None:
    data = _example()
    data["centres"][2]["principal_gisc"] = "Ofenbach"
    path = tmp_path / "dir.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    done = runner.invoke(cli, ["directory", "check", str(path)])
    out = " ".join(done.output.split())
    assert "did you mean 'Offenbach'?" in out
    assert f"(line {_line_of(text, 'principal_gisc: Ofenbach')})" in out


def test_directory_value_error_has_no_pydantic_prefix(tmp_path: Path) -> None:
    data = _example()
    data["rooms"][0]["role"] = "nonsense-role"
    path = tmp_path / "dir.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    done = runner.invoke(cli, ["directory", "check", str(path)])
    assert done.exit_code == 1
    assert "Value error" not in done.output
    assert "rooms[0]" in done.output


def test_directory_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("members:\n  - code: DE\n    name: [Germany\ncentres: []\n",
                    encoding="utf-8")
    done = runner.invoke(cli, ["directory", "check", str(path)])
    out = " ".join(done.output.split())
    assert done.exit_code == 1
    assert "broken.yaml" in out and "not valid YAML at line" in out
    assert "<unicode string>" not in out


def test_unprovisioned_matrix_rooms_are_one_line_with_the_fix(tmp_path: Path) -> None:
    data = _example()
    for room in data["rooms"]:
        room["platform"] = "matrix"
        room.pop("address", None)
    path = tmp_path / "dir.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    done = runner.invoke(cli, ["directory", "check", str(path)])
    assert done.exit_code == 1
    problems = [ln for ln in done.output.splitlines() if ln.strip().startswith("•")]
    assert len(problems) == 1, done.output
    out = " ".join(done.output.split())
    assert f"{len(data['rooms'])} matrix room(s) have no address yet" in out
    assert f"wisbot matrix provision --directory {path}" in out


# ----- exchange spot, skip summary -----------------------------------------------------

def test_exchange_spot_prints_each_line_once(tmp_path: Path, sqlite_url: str) -> None:
    directory = _probe_directory(tmp_path)  # no GISC has a catalogue: nothing to harvest
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WISBOT_DATABASE_URL": sqlite_url,
           "WISBOT_DIRECTORY": str(directory), "WISBOT_LOG_LEVEL": "INFO"}
    env.pop("WISBOT_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "wisbot", "exchange", "spot"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    both = done.stdout + done.stderr
    assert both.count("offered for global exchange") == 1, both


def test_skip_summary_groups_postgres_and_services() -> None:
    from tests._skip_summary import summary_lines

    class Report:
        def __init__(self, reason: str) -> None:
            self.longrepr = ("f.py", 1, f"Skipped: {reason}")

    lines = summary_lines([Report("PostgreSQL tests need WISBOT_TEST_POSTGRES_URL")] * 3
                          + [Report("Matrix tests need matrix-synapse in the test venv")]
                          + [Report("a read-only bind mount needs root and mount(8)"),
                             Report("something else")])
    assert lines == ["6 skipped: 3 PostgreSQL runs (PostgreSQL tests need "
                     "WISBOT_TEST_POSTGRES_URL); 2 need a service (Matrix tests need "
                     "matrix-synapse in the test venv); 1 other (something else)"]
    assert summary_lines([]) == []
