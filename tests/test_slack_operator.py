"""Slack as an admin sets it up (issue 12 item 16): start while Slack is unreachable,
``!incident`` typed as a message, ``wisbot slack check``, the manifest's App Home tab,
https-only request URLs and a command prefix.

Slack is a hosted service: these run slack_sdk / slack-bolt's real client and request
handling against the local fake of exactly the Web API used (tests/_fake_slack.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests._fake_slack import BOT_USER, FakeSlack, slack_directory
from tests.conftest import EXAMPLE
from tests.test_slack import C, StartSlack, U, channels_to_rooms, fake_slack, start_slack
from wisbot.adapters.slack import SlackAdapter, SlackConfig, SlackStartError
from wisbot.cli import app as cli

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner(env={"COLUMNS": "200"})
__all__ = ["fake_slack", "start_slack"]  # fixtures shared with test_slack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----- start while Slack is unreachable ---------------------------------------------------

async def test_start_waits_for_slack_with_backoff_then_connects(
        caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    adapter = SlackAdapter(SlackConfig(bot_token="xoxb-t", mode="http", signing_secret="s",
                                       api_base_url=f"http://127.0.0.1:{port}/api/",
                                       http_port=0, connect_backoff_max=0.5, timeout=2))
    caplog.set_level(logging.WARNING, logger="wisbot.adapters.slack")
    connecting = asyncio.create_task(adapter.start_outbound())
    for _ in range(200):  # two tries, logged (polling the log: no event to wait on)
        if sum("cannot reach the Slack API" in r.message for r in caplog.records) >= 2:
            break
        await asyncio.sleep(0.1)
    assert not connecting.done()
    lines = [r.message for r in caplog.records if "cannot reach the Slack API" in r.message]
    assert len(lines) >= 2 and "trying again in" in lines[0]
    assert all("\n" not in line for line in lines)  # one line each, no traceback
    fake = await FakeSlack().start(port)  # Slack is back
    try:
        await asyncio.wait_for(connecting, 20)
        assert adapter.bot_user_id == BOT_USER
    finally:
        await adapter.stop()
        await fake.stop()


async def test_a_refused_token_is_one_clear_error_at_once(fake_slack: FakeSlack) -> None:
    fake_slack.auth_error = "invalid_auth"
    adapter = SlackAdapter(SlackConfig(bot_token="xoxb-bad", mode="http", signing_secret="s",
                                       api_base_url=fake_slack.api_url))
    with pytest.raises(SlackStartError, match="WISBOT_SLACK_BOT_TOKEN"):
        await asyncio.wait_for(adapter.start_outbound(), 10)
    await adapter.stop()


def test_wisbot_run_with_slack_down_logs_lines_and_stops_on_sigint(tmp_path: Path,
                                                                    sqlite_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WISBOT_DATABASE_URL": sqlite_url,
           "WISBOT_DIRECTORY": str(EXAMPLE), "WISBOT_ADAPTERS": "slack",
           "WISBOT_SLACK_BOT_TOKEN": "xoxb-t", "WISBOT_SLACK_APP_TOKEN": "xapp-t",
           "WISBOT_SLACK_API_BASE_URL": f"http://127.0.0.1:{_free_port()}/api/"}
    env.pop("WISBOT_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "wisbot", "run"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        assert proc.stdout is not None
        while "trying again in" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "cannot reach the Slack API" in seen
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = seen + rest
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "stopped before wisbot finished starting" in out


# ----- !incident as a message -------------------------------------------------------------

def _message(who: str, room: str | None, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": C(room) if room else "D" + U(who),
            "user": who if who.startswith("U") else U(who), "text": text,
            "ts": f"{time.time():.6f}", "channel_type": "channel" if room else "im", **extra}


async def test_bang_command_in_a_channel_runs_and_cascades(start_slack: StartSlack) -> None:
    env = await start_slack()
    status = await env.event(_message(
        "anna.weber", "member-de", "!incident report DE-OF-NC share=principal-gisc sev=1 "
        "Spam relay"))
    assert status == 200
    await env.fake.wait_for(lambda: any(c.method in ("chat.postEphemeral", "chat.postMessage")
                                        for c in env.fake.calls))
    answers = [c for c in env.fake.calls
               if c.method in ("chat.postEphemeral", "chat.postMessage")]
    assert any("WIS-SEC-2026-1" in str(c.params.get("text")) for c in answers)
    await env.app.outbox.drain()
    assert channels_to_rooms(env.app.directory, env.fake.posted_channels()) >= \
        {"secretariat", "member-de", "gisc-offenbach"}


async def test_bang_usage_error_goes_to_the_person_only(start_slack: StartSlack) -> None:
    env = await start_slack()
    assert await env.event(_message("anna.weber", "member-de", "!incident report")) == 200
    await env.fake.wait_for(lambda: any(c.method == "chat.postEphemeral"
                                        for c in env.fake.calls))
    (eph,) = [c for c in env.fake.calls if c.method == "chat.postEphemeral"]
    assert eph.params["user"] == U("anna.weber") and eph.params["channel"] == C("member-de")
    assert not env.fake.posts(C("member-de"))


async def test_plain_chat_bots_edits_and_strangers(start_slack: StartSlack) -> None:
    env = await start_slack()
    await env.event(_message("anna.weber", "member-de", "good morning"))
    await env.event(_message(BOT_USER, "member-de", "!incident list"))
    await env.event(_message("anna.weber", "member-de", "!incident list",
                             subtype="message_changed"))
    await env.event(_message("anna.weber", "member-de", "!incident list", bot_id="B1"))
    await asyncio.sleep(0.5)
    assert not [c for c in env.fake.calls if c.method in ("chat.postEphemeral",
                                                          "chat.postMessage")]
    await env.event(_message("USTRANGER", "member-de", "!incident list"))
    await env.fake.wait_for(lambda: any(c.method == "chat.postEphemeral"
                                        for c in env.fake.calls))
    (eph,) = [c for c in env.fake.calls if c.method == "chat.postEphemeral"]
    assert eph.params["user"] == "USTRANGER"
    assert "not in the wisbot directory" in str(eph.params.get("text"))


async def test_bang_command_in_a_held_channel_is_not_run(start_slack: StartSlack,
                                                         fake_slack: FakeSlack) -> None:
    fake_slack.members[C("member-de")] = ["USTRANGER"]
    env = await start_slack()
    await env.event(_message("anna.weber", "member-de",
                             "!incident report DE-OF-NC share=secretariat sev=1 Spam"))
    await env.fake.wait_for(lambda: any(c.method in ("chat.postEphemeral", "chat.postMessage")
                                        and c.params.get("channel") == C("member-de")
                                        for c in env.fake.calls))
    await env.app.outbox.drain()
    from sqlmodel import select

    from wisbot.store.tables import Incident

    assert env.app.store is not None
    assert env.app.store.run(lambda s: s.exec(select(Incident)).all()) == []


async def test_bang_command_in_the_direct_chat(start_slack: StartSlack) -> None:
    env = await start_slack()
    await env.event(_message("anna.weber", None, "!severity"))
    await env.fake.wait_for(lambda: bool(env.fake.posts("D" + U("anna.weber"))))
    (post,) = env.fake.posts("D" + U("anna.weber"))
    assert "severity" in post["text"].lower()


async def test_prefixed_slash_commands(start_slack: StartSlack) -> None:
    env = await start_slack(slack_command_prefix="wis-")
    reply = await env.reply_to("anna.weber", "member-de", "/wis-severity", "")
    assert "severity" in reply["text"].lower()
    status, _, _ = await env.slash("anna.weber", "member-de", "/severity", "")
    assert status == 404  # not wisbot's command: bolt leaves it unhandled
    await asyncio.sleep(0.3)
    assert len(env.fake.responses) == 1  # the unprefixed command is not wisbot's


# ----- wisbot slack check ------------------------------------------------------------------

def _directory_file(tmp_path: Path) -> Path:
    d = slack_directory(EXAMPLE, console_rooms=("working-group",))
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(d.model_dump(mode="json", exclude_none=True),
                                   sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


async def test_slack_check_finds_each_problem(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.members[C("gisc-tokyo")] = ["USTRANGER", U("gisc-tokyo")]
    fake_slack.members[C("member-de")] = [U("gisc-tokyo")]  # known, outside its audience
    fake_slack.bot_absent.add(C("area-tokyo"))
    fake_slack.public.add(C("secretariat"))
    fake_slack.unknown_users.add(U("anna.weber"))
    fake_slack.deleted_users.add(U("sec-maria"))
    path = _directory_file(tmp_path)
    env = {"WISBOT_DIRECTORY": str(path), "WISBOT_SLACK_BOT_TOKEN": "xoxb-t",
           "WISBOT_SLACK_API_BASE_URL": fake_slack.api_url}
    done = await asyncio.to_thread(runner.invoke, cli, ["slack", "check", "--json"], env=env)
    assert done.exit_code == 1, done.output
    findings = {f["subject"].split(" (")[0]: f for f in json.loads(done.output)}
    assert findings["token"]["level"] == "ok"
    assert "USTRANGER" in findings["channel gisc-tokyo"]["detail"]
    assert findings["channel gisc-tokyo"]["level"] == "error"
    assert "outside this room's audience" in findings["channel member-de"]["detail"]
    assert "not a member" in findings["channel area-tokyo"]["detail"]
    assert "public channel" in findings["channel secretariat"]["detail"]
    assert findings["channel gisc-offenbach"]["level"] == "ok"
    assert "no such Slack user" in findings["contact anna.weber"]["detail"]
    assert "deactivated" in findings["contact sec-maria"]["detail"]
    assert findings["contact gisc-tokyo"]["level"] == "ok"
    assert not [c for c in fake_slack.calls if c.method.startswith("chat.")]  # posts nothing
    text = await asyncio.to_thread(runner.invoke, cli, ["slack", "check"], env=env)
    assert "FAIL channel gisc-tokyo" in text.output and "problem(s)" in text.output


async def test_slack_check_all_good_and_token_refused(fake_slack: FakeSlack,
                                                      tmp_path: Path) -> None:
    path = _directory_file(tmp_path)
    env = {"WISBOT_DIRECTORY": str(path), "WISBOT_SLACK_BOT_TOKEN": "xoxb-t",
           "WISBOT_SLACK_API_BASE_URL": fake_slack.api_url}
    done = await asyncio.to_thread(runner.invoke, cli, ["slack", "check"], env=env)
    assert done.exit_code == 0, done.output
    assert "ready: no problem found" in done.output
    fake_slack.auth_error = "invalid_auth"
    done = await asyncio.to_thread(runner.invoke, cli, ["slack", "check"], env=env)
    assert done.exit_code == 1 and "FAIL token" in done.output
    assert "Traceback" not in done.output


def test_slack_check_with_slack_unreachable_says_so(tmp_path: Path) -> None:
    path = _directory_file(tmp_path)
    env = {"WISBOT_DIRECTORY": str(path), "WISBOT_SLACK_BOT_TOKEN": "xoxb-t",
           "WISBOT_SLACK_API_BASE_URL": f"http://127.0.0.1:{_free_port()}/api/"}
    done = runner.invoke(cli, ["slack", "check"], env=env)
    assert done.exit_code == 1, done.output
    assert "cannot reach the Slack API" in done.output and "Traceback" not in done.output


# ----- manifest -------------------------------------------------------------------------------

def test_manifest_has_the_messages_tab_message_events_and_prefix() -> None:
    from wisbot.adapters.slack_manifest import build_manifest
    from wisbot.commands import build_registry

    m = build_manifest(build_registry(), command_prefix="wis-")
    assert m["features"]["app_home"]["messages_tab_enabled"] is True
    assert m["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    assert {"message.channels", "message.groups", "message.im"} <= \
        set(m["settings"]["event_subscriptions"]["bot_events"])
    assert {"channels:history", "groups:history", "im:history"} <= \
        set(m["oauth_config"]["scopes"]["bot"])
    commands = [c["command"] for c in m["features"]["slash_commands"]]
    assert commands[:2] == ["/wis-incident", "/wis-severity"]
    done = runner.invoke(cli, ["slack", "manifest"], env={"WISBOT_SLACK_COMMAND_PREFIX": "wis-"})
    assert "command: /wis-watch" in done.output


@pytest.mark.parametrize("url, extra, ok", [
    ("https://bot.example.org/slack/events", [], True),
    ("http://bot.example.org/slack/events", [], False),
    ("http://bot.example.org/slack/events", ["--allow-http-loopback"], False),
    ("http://127.0.0.1:3000/slack/events", [], False),
    ("http://127.0.0.1:3000/slack/events", ["--allow-http-loopback"], True),
    ("ftp://bot.example.org/x", [], False),
])
def test_request_url_must_be_https(url: str, extra: list[str], ok: bool) -> None:
    done = runner.invoke(cli, ["slack", "manifest", "--request-url", url, *extra])
    assert (done.exit_code == 0) == ok, done.output
    if not ok:
        assert "https" in done.output and "Traceback" not in done.output
