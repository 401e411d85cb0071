"""WMO scale: the generated directory (193 Members, 15 GISCs, 226 rooms) validates, a
``group`` report reaches every room of its audience once, an anonymous lesson withholds
the Member in every room, and the Directory's indexes answer like a scan would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.scale import scale_directory, scale_directory_data
from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.cli import app as cli
from wisbot.directory import Directory
from wisbot.domain.confidentiality import Exposure, Share
from wisbot.services.incidents import audience


@pytest.fixture(scope="module")
def big() -> Directory:
    return scale_directory()


def test_the_generated_directory_is_wmo_sized_and_valid(tmp_path: Path, big: Directory):
    assert len(big.members) == 193
    assert len(big.giscs) == 15
    assert len(big.rooms) == 226
    assert len({r.role for r in big.rooms if r.role.startswith("member:")}) == 193
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(scale_directory_data(), sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["directory", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "193 Members" in result.output and "226 rooms" in result.output
    # deterministic: the same file every time
    assert scale_directory_data() == scale_directory_data()


def test_indexes_answer_like_a_scan(big: Directory):
    for m in big.members:
        for spelt in (m.code, m.code.lower()):
            assert big.centres_of(spelt) == [c for c in big.centres
                                             if c.member.casefold() == m.code.casefold()]
            assert big.contacts_of_member(spelt) == [
                c for c in big.contacts if any(x.casefold() == m.code.casefold()
                                               for x in c.members)]
            assert big.principal_giscs_of(spelt) == {
                c.principal_gisc for c in big.centres if c.member.casefold() == m.code.casefold()}
    for role in {r.role for r in big.rooms} | {"nobody:here"}:
        assert big.rooms_with_role(role) == [r for r in big.rooms if r.role == role]
    for role in {r for c in big.contacts for r in c.roles} | {"watch"}:
        assert big.contacts_with_role(role) == [c for c in big.contacts if role in c.roles]
    for role in [*big.oncall_roles(), "GISC:offenbach", "member:zz-unknown"]:
        chain, rotations, overrides = big.oncall_rules(role)
        assert chain == next((c for r, c in big.oncall.items()
                              if r.casefold() == role.casefold()), ())
        assert len(rotations) == sum(r.role.casefold() == role.casefold()
                                     for r in big.oncall_rotations)
        assert len(overrides) == sum(o.role.casefold() == role.casefold()
                                     for o in big.oncall_overrides)
    # callers get their own lists
    big.rooms_with_role("secretariat").clear()
    assert big.rooms_with_role("secretariat")


async def test_a_group_report_reaches_all_its_rooms_once(make_app, big: Directory):
    adapter = ConsoleAdapter(echo=False)
    app = await make_app(big, adapters=[adapter])
    reply = await adapter.type("fp.ab", "incident report AB-NC share=group sev=2 Scanning of "
                               "the message switch", "member-ab")
    assert reply.kind != "error", render_text(reply)
    await app.outbox.drain()
    centre = big.centre("AB-NC")
    expected = {r.key for r, _ in audience(big, Exposure(centre.member, centre.principal_gisc,
                                                         Share.GROUP, False))}
    assert len(expected) > 30
    got = {k: len(v) for k, v in adapter.rooms.items()}
    assert set(got) == expected
    assert set(got.values()) == {1}


async def test_an_anonymous_lesson_withholds_the_member_in_every_room(make_app, big):
    adapter = ConsoleAdapter(echo=False)
    app = await make_app(big, adapters=[adapter])
    await adapter.type("anna.weber", "incident report DE-OF-NC share=group sev=2 Phishing",
                       "member-de")
    number = f"WIS-SEC-{app.clock().year}-1"
    await adapter.type("anna.weber", f"incident resolve {number} done", "member-de")
    await app.outbox.drain()
    adapter.rooms.clear()
    for i in range(3):  # the same text twice: the remembered result is the redacted one
        text = "Anna Weber at DWD rotated the DE-OF-NC keys" if i < 2 else "Weber again"
        reply = await adapter.type("anna.weber", f"lessons add {number} share=anonymous {text}",
                                   "member-de")
        assert reply.kind != "error", render_text(reply)
    await app.outbox.drain()
    # every other Member's room (the Secretariat reads it named)
    told = {k: v for k, v in adapter.rooms.items()
            if k.startswith("member-") and k != "member-de"}
    assert len(told) == 192
    for key, replies in told.items():
        assert len(replies) == 3, key
        for r in replies:
            text = render_text(r)
            for word in ("Anna", "Weber", "DWD", "DE-OF-NC", "Germany"):
                assert word not in text, (key, text)
