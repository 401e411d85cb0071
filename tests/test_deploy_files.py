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


def _container_extras() -> set[str]:
    text = (ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    found = re.search(r"pip install [^\n]*'\.\[([\w,-]+)\]'", text)
    assert found, "the Containerfile installs wisbot from the source tree with its extras"
    return set(found.group(1).split(","))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    found = re.match(r"[A-Za-z0-9_.-]+", req)
    assert found, req
    return _norm(found.group(0))


def test_the_container_installs_every_extra_wisbot_imports() -> None:
    """Every third-party module imported anywhere in wisbot/ (adapters, jobs, probes) that
    only an extra provides is installed in the image: a missing one killed the container
    at start (``import aiomqtt``)."""
    import ast
    import importlib.metadata
    import sys
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras = {name: {_requirement_name(r) for r in reqs}
              for name, reqs in project["optional-dependencies"].items() if name != "dev"}
    modules: set[str] = set()
    for path in (ROOT / "wisbot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    dists = importlib.metadata.packages_distributions()
    needed: set[str] = set()
    for module in modules - set(sys.stdlib_module_names) - {"wisbot"}:
        assert module in dists, f"wisbot imports {module}, which no installed package provides"
        needed |= {_norm(d) for d in dists[module]} - core
    installed = set().union(*(extras[e] for e in _container_extras()))
    assert {"aiomqtt", "matrix-nio", "slack-bolt"} <= needed  # the scan sees the adapters
    missing = sorted(d for d in needed if d not in installed
                     and any(d in reqs for reqs in extras.values()))
    assert not missing, f"the Containerfile's extras leave out {missing}"


def test_the_container_has_what_compose_configures() -> None:
    compose = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    extras = _container_extras()
    if "postgresql://" in compose:
        assert "postgres" in extras
    if re.search(r'WISBOT_MATRIX_E2E: "true"', compose):
        assert "e2e" in extras


def test_no_document_installs_the_unrelated_wisbot_distribution() -> None:
    """``wisbot`` on the package index is another project: the docs install from this
    repository and the distribution has its own name."""
    import tomllib

    name = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["name"]
    assert name != "wisbot"
    bad = re.compile(r"pip install [^\n`]*(?<![\w.-])['\"]?wisbot(\[|['\"\s`]|$)")
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "deploy").iterdir(),
             *(ROOT / "wisbot").rglob("*.py")]
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files if p.is_file()
                 for m in bad.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders, offenders


def test_compose_mounts_the_directory_folder_not_the_file() -> None:
    """Provision replaces directory.yaml (new room ids) and an editor saves by renaming: a
    single-file bind mount hides both from the container, and its folder is not writable
    there. The bot mounts the folder read-only; the one-off provision service writable."""
    import yaml

    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(
        encoding="utf-8"))["services"]
    directory = services["wisbot"]["environment"]["WISBOT_DIRECTORY"]
    folder = str(Path(directory).parent)
    for name, mode in (("wisbot", ":ro"), ("provision", "")):
        mounts = [v for v in services[name]["volumes"] if v.split(":")[1] == folder]
        assert mounts == [f"./config:{folder}{mode}"], (name, services[name]["volumes"])
        assert not any(v.split(":")[1] == directory for v in services[name]["volumes"])
    assert services["provision"]["command"][:2] == ["matrix", "provision"]


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_cli_prints_the_packaged_version(flag: str) -> None:
    import tomllib

    from typer.testing import CliRunner

    from wisbot.cli import app

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["version"]
    result = CliRunner().invoke(app, [flag])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wisbot {version}"
