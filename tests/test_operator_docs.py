"""The set-up pages say what a first deployment needs (issue 12 item 15), and compose
runs with a Matrix access token and no password."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from wisbot.directory import Contact, Room

ROOT = Path(__file__).resolve().parent.parent


def test_compose_takes_a_token_or_a_password() -> None:
    text = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    env = compose["services"]["wisbot"]["environment"]
    assert env["WISBOT_MATRIX_ACCESS_TOKEN"] == "${WISBOT_MATRIX_ACCESS_TOKEN:-}"
    assert env["WISBOT_MATRIX_PASSWORD"] == "${WISBOT_MATRIX_PASSWORD:-}"
    assert ":?" not in env["WISBOT_MATRIX_PASSWORD"]  # compose no longer demands it
    assert "docker compose exec synapse register_new_matrix_user" in text


def test_matrix_page_has_every_step() -> None:
    page = (ROOT / "docs" / "matrix.md").read_text(encoding="utf-8")
    assert "run `wisbot matrix provision`" in page
    assert "docker compose exec synapse register_new_matrix_user" in page
    assert '"device_id": "WISBOT"' in page
    assert "rc_room_creation" in page and "rc_login" in page
    database = re.search(r"```yaml\n(database:.*?)```", page, re.S)
    assert database is not None
    synapse = yaml.safe_load(database.group(1))
    assert synapse["database"]["name"] == "psycopg2"
    assert synapse["database"]["args"]["dbname"] == "synapse"
    snippet = re.search(r"```yaml\n(contacts:.*?)```", page, re.S)
    assert snippet is not None
    entries = yaml.safe_load(snippet.group(1))
    contact = Contact.model_validate(entries["contacts"][0])
    assert contact.chat.matrix == "@anna.weber:example.org"
    room = Room.model_validate(entries["rooms"][0])
    assert room.platform == "matrix" and room.address is None


def test_slack_page_covers_messages_check_and_prefix() -> None:
    page = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    for needle in ("wisbot slack check", "!incident", "WISBOT_SLACK_COMMAND_PREFIX",
                   "Messages tab", "https"):
        assert needle in page, needle
