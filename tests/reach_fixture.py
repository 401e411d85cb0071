"""The example directory's shape deployed on Matrix: every room on Matrix, every contact
with a Matrix user id except the first Secretariat contact (``sec-desk``), which has
none — as in ``deploy/directory.example.yaml``, where no contact has a chat id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wisbot.adapters.console import ConsoleAdapter
from wisbot.ids import Platform

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "directory.example.yaml"
NO_CHAT = "sec-desk"


def matrix_shaped(path: Path, *, without: tuple[str, ...] = (NO_CHAT,)) -> Path:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    for room in data["rooms"]:
        room["platform"] = "matrix"
        room["address"] = f"!{room['key']}:example.org"
    for contact in data["contacts"]:
        if contact["id"] not in without:
            contact["chat"] = {"matrix": f"@{contact['id']}:example.org"}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def mxid(contact: str) -> str:
    return f"@{contact}:example.org"


def room_id(key: str) -> str:
    return f"!{key}:example.org"


class MatrixLike(ConsoleAdapter):
    """The console adapter under the Matrix platform name: rooms and direct messages by
    their Matrix ids, recorded in memory (no Synapse needed for paging arithmetic)."""

    platform = Platform("matrix")

    def __init__(self) -> None:
        super().__init__(echo=False)
