"""``wisbot shell``: the terminal prompt (history, Ctrl-C, Ctrl-D, deliveries above the
prompt), the piped mode scripts use, and the hints for a wrong contact or room.

The prompt is driven through prompt_toolkit's own pipe input (the keys a terminal sends)
and, once, through a real pseudo-terminal with the ``wisbot`` command."""

from __future__ import annotations

import asyncio
import io
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.plain_text import PlainTextOutput
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from wisbot import shell as sh
from wisbot.adapters.console import ConsoleAdapter
from wisbot.cli import app as cli
from wisbot.directory import Directory
from wisbot.reply import text_reply

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner(env={"COLUMNS": "200"})


async def _drive(app: Any, pre: sh.Preflight, keys: list[str], history: Path,
                 during: Any = None) -> tuple[int, str, list[str]]:
    """Type ``keys`` (one chunk at a time, waiting for the prompt between them) and
    return the exit status, everything the terminal showed, and the echoed lines."""
    screen = io.StringIO()
    echoed: list[str] = []
    with create_pipe_input() as inp, create_app_session(input=inp,
                                                        output=PlainTextOutput(screen)):
        task = asyncio.create_task(sh.run_tty(app, pre, echoed.append, history=history,
                                              input=inp, output=PlainTextOutput(screen)))
        for chunk in keys:
            await asyncio.sleep(0.3)
            if during is not None and chunk == "<during>":
                await during()
                continue
            inp.send_text(chunk)
        status = await asyncio.wait_for(task, 10)
    return status, screen.getvalue(), echoed


async def test_tty_history_ctrl_c_clears_then_leaves(make_app: Any,
                                                     example_directory: Directory,
                                                     tmp_path: Path) -> None:
    app = await make_app()
    pre = sh.preflight(example_directory, EXAMPLE, "anna.weber", "member-de")
    history = tmp_path / "hist"
    status, _, echoed = await _drive(app, pre, [
        "severity\r",
        "half a line\x03",      # Ctrl-C with text: the line is cleared, nothing runs
        "\x03",                 # on an empty line: a hint
        "\x03",                 # again: leave
    ], history)
    assert status == 0
    assert echoed[-1] == sh.LEAVE_WORD
    assert sh.CTRL_C_HINT in echoed
    assert any("severity" in e.lower() and "5" in e for e in echoed[:-1])
    text = history.read_text(encoding="utf-8")
    assert "severity" in text and "half a line" not in text
    # a second session recalls it with the up arrow
    status, _, echoed = await _drive(app, pre, ["\x1b[A\r", "\x04"], history)
    assert status == 0 and echoed[-1] == sh.LEAVE_WORD
    assert len([e for e in echoed if "severity" in e.lower()]) >= 1


async def test_tty_ctrl_d_on_empty_line_leaves_with_a_word(make_app: Any,
                                                           example_directory: Directory,
                                                           tmp_path: Path) -> None:
    app = await make_app()
    pre = sh.preflight(example_directory, EXAMPLE, "anna.weber", None)
    status, _, echoed = await _drive(app, pre, ["\x04"], tmp_path / "h")
    assert (status, echoed) == (0, [sh.LEAVE_WORD])


async def test_tty_background_delivery_printed_above_the_prompt(
        make_app: Any, example_directory: Directory, tmp_path: Path) -> None:
    """A message the outbox delivers while the person types goes through patch_stdout:
    it appears on the screen and the half-typed line is drawn again after it."""
    adapter = ConsoleAdapter(sh.CURRENT_STDOUT)
    app = await make_app(adapters=[adapter])
    pre = sh.preflight(example_directory, EXAMPLE, "anna.weber", "member-de")

    async def deliver() -> None:  # through the outbox, as the worker would
        await app.direct_answer("sec-maria", text_reply("Handover from GISC Tokyo"))
        await app.outbox.drain()

    status, screen, echoed = await _drive(app, pre, ["incid", "<during>", "ent list\r",
                                                     "\x04"], tmp_path / "h", during=deliver)
    assert status == 0
    assert "[@sec-maria] Handover from GISC Tokyo\n" in screen
    after = screen[screen.index("Handover from GISC Tokyo"):]
    assert "anna.weber>" in after  # the prompt is drawn again below the message
    # the half-typed line survived the message: "incid" + "ent list" ran as one command
    assert any("incident" in e.lower() and "usage" not in e.lower() for e in echoed[:-1])
    assert not any("unknown command" in e.lower() for e in echoed)


def test_unknown_contact_says_where_contacts_come_from(example_directory: Directory) -> None:
    with pytest.raises(Exception) as caught:
        sh.preflight(example_directory, EXAMPLE, "nobody", None)
    text = str(caught.value)
    assert "contacts:" in text and str(EXAMPLE) in text
    assert "directory preview" in text and "directory check" in text
    assert "sec-desk" in text  # some contacts are named when nothing is near
    with pytest.raises(Exception, match=r"near matches: anna\.weber"):
        sh.preflight(example_directory, EXAMPLE, "weber", None)


def test_room_outside_the_contacts_audience_warns(example_directory: Directory) -> None:
    pre = sh.preflight(example_directory, EXAMPLE, "anna.weber", "gisc-tokyo")
    assert len(pre.warnings) == 1
    assert "outside the audience of room gisc-tokyo" in pre.warnings[0]
    assert sh.preflight(example_directory, EXAMPLE, "anna.weber", "member-de").warnings == []
    assert sh.preflight(example_directory, EXAMPLE, "sec-maria", "gisc-tokyo").warnings == []


def test_cli_shell_piped_and_hints(sqlite_url: str) -> None:
    env = {"WISBOT_DIRECTORY": str(EXAMPLE), "WISBOT_DATABASE_URL": sqlite_url}
    done = runner.invoke(cli, ["shell", "--as", "anna.weber", "--room", "member-de"],
                         input="severity\n\nincident list\n", env=env)
    assert done.exit_code == 0, done.output
    assert "Security incident severity 5" in done.output
    bad = runner.invoke(cli, ["shell", "--as", "nobody"], input="", env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "contacts:" in bad.output
    stranger = runner.invoke(cli, ["shell", "--as", "anna.weber", "--room", "gisc-tokyo"],
                             input="", env=env)
    assert stranger.exit_code == 0
    assert "outside the audience of room gisc-tokyo" in stranger.output


def test_real_pty_session(tmp_path: Path, sqlite_url: str) -> None:
    """The installed command on a pseudo-terminal: the arrow keys edit (no ``^[[D`` on
    screen), a command runs, Ctrl-D leaves with status 0 and a word."""
    if not hasattr(os, "openpty") or shutil.which("true") is None:
        pytest.skip("no pseudo-terminals on this system")
    main, sub = os.openpty()
    env = {**os.environ, "WISBOT_DIRECTORY": str(EXAMPLE), "WISBOT_DATABASE_URL": sqlite_url,
           "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "120", "LINES": "40",
           "PROMPT_TOOLKIT_NO_CPR": "1"}  # this test answers no cursor-position request
    proc = subprocess.Popen([sys.executable, "-m", "wisbot", "shell", "--as", "anna.weber"],
                            stdin=sub, stdout=sub, stderr=sub, env=env, cwd=tmp_path,
                            close_fds=True, start_new_session=True)
    os.close(sub)
    seen = b""

    def _pump(wait: float) -> bool:
        nonlocal seen
        ready, _, _ = select.select([main], [], [], wait)
        if ready:
            try:
                seen += os.read(main, 65536)
            except OSError:
                return False
        return True

    def read_until(marker: bytes, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < end and _pump(0.2):
            pass
        assert marker in seen, seen[-2000:]

    try:
        read_until(b"anna.weber>")
        time.sleep(0.5)  # the prompt is drawn just before the terminal goes raw
        os.write(main, b"sevXerity" + b"\x1b[D" * 5 + b"\x7f\r")  # left ×5, backspace
        read_until(b"severity 5")
        prompts = seen.count(b"anna.weber>")
        end = time.monotonic() + 30
        while seen.count(b"anna.weber>") == prompts and time.monotonic() < end:
            _pump(0.2)
        time.sleep(0.5)
        os.write(main, b"\x04")
        read_until(sh.LEAVE_WORD.encode())
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert b"^[[D" not in seen


def test_piped_shell_interrupted_leaves_at_once_with_a_word(tmp_path: Path,
                                                            sqlite_url: str) -> None:
    """Ctrl-C (SIGINT) while the piped shell waits for input: it leaves within seconds,
    says so, and its reader thread does not keep the process alive."""
    import signal

    env = {**os.environ, "WISBOT_DIRECTORY": str(EXAMPLE), "WISBOT_DATABASE_URL": sqlite_url,
           "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "wisbot", "shell", "--as", "anna.weber"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        assert proc.stdout is not None
        end = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < end:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
        assert marker in seen, seen[-2000:]

    try:
        assert proc.stdin is not None
        read_until(b"Type `help`")
        proc.stdin.write(b"severity\n")
        proc.stdin.flush()
        read_until(b"severity 5")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        took = time.monotonic() - started
        read_until(sh.LEAVE_WORD.encode(), timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 130, seen[-2000:]
    assert f"{sh.LEAVE_WORD} (interrupted)".encode() in seen
    assert b"Traceback" not in seen
    assert took < 15
