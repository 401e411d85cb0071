"""The shipped deployment files stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from wisbot.settings import load_settings

EXAMPLE_TOML = ROOT / "deploy" / "wisbot.example.toml"
KEY = re.compile(r"^# (\w+) = (.+)$")


def test_every_example_setting_is_a_real_setting(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [m.group(1) + " = " + m.group(2)
             for m in map(KEY.match, EXAMPLE_TOML.read_text(encoding="utf-8").splitlines())
             if m]
    assert len(lines) > 30
    toml = tmp_path / "all.toml"
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("WISBOT_CONFIG", str(toml))
    settings = load_settings()
    assert settings.database_url == "sqlite:///wisbot.db"


def test_a_misspelt_setting_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "typo.toml"
    toml.write_text('databse_url = "postgresql://x/y"\n', encoding="utf-8")
    monkeypatch.setenv("WISBOT_CONFIG", str(toml))
    with pytest.raises(ValueError, match="databse_url"):
        load_settings()


def test_systemd_unit_runs_the_documented_commands() -> None:
    unit = (ROOT / "deploy" / "wisbot.service").read_text(encoding="utf-8")
    assert "ExecStartPre=/opt/wisbot/.venv/bin/wisbot db upgrade" in unit
    assert "ExecStart=/opt/wisbot/.venv/bin/wisbot run" in unit
