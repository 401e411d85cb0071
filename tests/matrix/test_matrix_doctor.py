"""``wisbot doctor`` against a real Synapse with its default rate limits: it tells whether
the bot's account is exempt from them (docs/matrix.md's admin call), says it cannot tell
when the bot is no admin, and its password login leaves the bot's own device alone."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from tests.matrix.synapse import Registered, Synapse
from wisbot.cli import app as cli


def _doctor(monkeypatch: pytest.MonkeyPatch, server: Synapse, db: str, user: str, *,
            token: str | None = None, password: str | None = None) -> Any:
    monkeypatch.setenv("WISBOT_ADAPTERS", "matrix")
    monkeypatch.setenv("WISBOT_MATRIX_HOMESERVER", server.url)
    monkeypatch.setenv("WISBOT_MATRIX_USER_ID", user)
    for name, value in (("WISBOT_MATRIX_ACCESS_TOKEN", token),
                        ("WISBOT_MATRIX_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, ["doctor", "--directory", str(EXAMPLE), "--database-url", db])


def _auth(reg: Registered) -> dict[str, str]:
    return {"Authorization": f"Bearer {reg.access_token}"}


def _burst(server: Synapse, reg: Registered, n: int) -> list[int]:
    """``n`` messages as fast as they go into a fresh room: the HTTP statuses."""
    room = httpx.post(f"{server.url}/_matrix/client/v3/createRoom", headers=_auth(reg),
                      json={"preset": "private_chat"}, timeout=30).json()["room_id"]
    codes = []
    for i in range(n):
        r = httpx.put(f"{server.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/"
                      f"t{secrets.token_hex(4)}", headers=_auth(reg),
                      json={"msgtype": "m.notice", "body": f"burst {i}"}, timeout=30)
        codes.append(r.status_code)
    return codes


def test_a_bot_that_is_no_admin_cannot_tell(synapse_default_limits: Synapse, sqlite_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bot = synapse_default_limits.register(f"bot{secrets.token_hex(3)}")
    result = _doctor(monkeypatch, synapse_default_limits, sqlite_url, bot.user_id,
                     token=bot.access_token)
    assert result.exit_code == 0, result.output
    assert f"ok   matrix login: {bot.user_id}" in result.output
    assert f"??   matrix rate limits: cannot tell whether {bot.user_id} is exempt" in result.output
    assert "override_ratelimit" in result.output  # and how to make sure


def test_the_documented_admin_call_exempts_the_bot(synapse_default_limits: Synapse,
                                                   sqlite_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server = synapse_default_limits
    bot = server.register(f"bot{secrets.token_hex(3)}", admin=True)
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, token=bot.access_token)
    assert result.exit_code == 0, result.output
    assert f"WARN matrix rate limits: {bot.user_id} is NOT exempt" in result.output
    # Synapse's default rc_message: a burst of 15 meets M_LIMIT_EXCEEDED
    assert 429 in _burst(server, bot, 15)
    # docs/matrix.md: the call a homeserver admin makes (here the bot is one)
    r = httpx.post(f"{server.url}/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
                   headers=_auth(bot), json={"messages_per_second": 0, "burst_count": 0},
                   timeout=30)
    assert r.status_code == 200, r.text
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, token=bot.access_token)
    assert f"ok   matrix rate limits: {bot.user_id} is exempt" in result.output, result.output
    assert 429 not in _burst(server, bot, 30)
    # raised limits are not an exemption
    httpx.post(f"{server.url}/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
               headers=_auth(bot), json={"messages_per_second": 50, "burst_count": 100},
               timeout=30).raise_for_status()
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, token=bot.access_token)
    assert "has raised limits (50" in result.output, result.output


def test_a_password_login_leaves_the_bots_device_alone(synapse_default_limits: Synapse,
                                                       sqlite_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    server = synapse_default_limits
    bot = server.register(f"bot{secrets.token_hex(3)}")
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, password=bot.password)
    assert result.exit_code == 0, result.output
    assert f"ok   matrix login: {bot.user_id}" in result.output
    devices = httpx.get(f"{server.url}/_matrix/client/v3/devices", headers=_auth(bot),
                        timeout=30).json()["devices"]
    assert [d["device_id"] for d in devices] == [bot.device_id]  # its own was logged out
    wrong = _doctor(monkeypatch, server, sqlite_url, bot.user_id, password="not-it")
    assert wrong.exit_code == 1 and "FAIL matrix login: login as" in wrong.output


def test_a_bad_token_or_another_account_fails(synapse_default_limits: Synapse, sqlite_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server = synapse_default_limits
    bot = server.register(f"bot{secrets.token_hex(3)}")
    other = server.register(f"other{secrets.token_hex(3)}")
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, token="syt_nonsense")
    assert result.exit_code == 1 and "the access token is refused" in result.output
    result = _doctor(monkeypatch, server, sqlite_url, bot.user_id, token=other.access_token)
    assert result.exit_code == 1 and f"belongs to {other.user_id}" in result.output
