"""The directory file: validation errors a maintainer can act on, and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import EXAMPLE
from wisbot.directory import directory_schema, load_directory
from wisbot.errors import DirectoryError


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "dir.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _example() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def test_example_has_the_fifteen_gisc_of_the_spec() -> None:
    d = load_directory(EXAMPLE)
    assert sorted(g.name for g in d.giscs) == [
        "Beijing", "Brasilia", "Casablanca", "Exeter", "Jeddah", "Melbourne", "Moscow",
        "New Delhi", "Offenbach", "Pretoria", "Seoul", "Tehran", "Tokyo", "Toulouse",
        "Washington"]
    assert all(c.email is None or c.email.endswith("example.org") for c in d.contacts)
    # every centre's principal GISC exists; every GISC has a room
    assert {r.role for r in d.rooms} >= {f"gisc:{g.name}" for g in d.giscs}
    assert d.gisc("GISC-Brasília").name == "Brasilia"


def test_unknown_principal_gisc_names_file_entry_field_and_suggests(tmp_path: Path) -> None:
    data = _example()
    data["centres"][16]["principal_gisc"] = "Ofenbach"
    path = _write(tmp_path, data)
    with pytest.raises(DirectoryError) as exc:
        load_directory(path)
    text = str(exc.value)
    assert str(path) in text
    code = data["centres"][16]["code"]
    assert f"centres[16] (code {code!r}).principal_gisc" in text
    assert "did you mean 'Offenbach'" in text


def test_type_error_names_entry_and_field(tmp_path: Path) -> None:
    data = _example()
    data["contacts"][3]["lead"] = "perhaps"
    data["rooms"][2]["platform"] = "telegram"
    with pytest.raises(DirectoryError) as exc:
        load_directory(_write(tmp_path, data))
    problems = exc.value.problems
    label = f"contacts[3] (id {data['contacts'][3]['id']!r}).lead"
    assert any(p.startswith(label) for p in problems)
    assert any("rooms[2]" in p and "platform" in p and "telegram" in p for p in problems)


def test_cross_checks(tmp_path: Path) -> None:
    data = _example()
    data["contacts"].append(dict(data["contacts"][0], name="Impostor"))  # duplicate id
    data["rooms"].append({"key": "m", "role": "gisc:Atlantis", "platform": "matrix"})
    data["oncall"]["secretariat"].append("nobody")
    with pytest.raises(DirectoryError) as exc:
        load_directory(_write(tmp_path, data))
    text = "\n".join(exc.value.problems)
    assert "duplicate 'sec-desk'" in text
    assert "unknown GISC 'Atlantis'" in text
    assert "a matrix room needs its address" in text
    assert "oncall.secretariat[2]: unknown contact 'nobody'" in text


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("members: [unclosed", encoding="utf-8")
    with pytest.raises(DirectoryError, match="not valid YAML"):
        load_directory(bad)
    with pytest.raises(DirectoryError, match=r"cannot read.*WISBOT_DIRECTORY"):
        load_directory(tmp_path / "absent.yaml")


def test_schema_validates_the_example_and_rejects_a_bad_one() -> None:
    schema = directory_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_example(), schema)
    broken = _example()
    del broken["rooms"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    assert json.loads(json.dumps(schema))["title"] == "wisbot directory"


def test_an_aliased_huge_id_gets_a_short_error(tmp_path: Path) -> None:
    """A contact id that is a YAML alias of 10**5 strings: the error names its type."""
    lines = ['a0: &a0 ["x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    path = tmp_path / "directory.yaml"
    path.write_text("\n".join(lines) + "\ncontacts:\n- {id: *a5, name: n}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as exc:
        load_directory(path)
    assert "contacts[0] (id list)" in str(exc.value)
    assert len(str(exc.value)) < 10_000
