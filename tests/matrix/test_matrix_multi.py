"""Several adapters at once: one incident cascades to Matrix and console rooms."""

from __future__ import annotations

import copy
import re

from pydantic import SecretStr

from tests.matrix.conftest import World
from wisbot.adapters.console import ConsoleAdapter
from wisbot.adapters.matrix import MatrixAdapter
from wisbot.app import App
from wisbot.directory import parse_directory
from wisbot.settings import Settings


async def test_one_incident_reaches_matrix_and_console_rooms(world: World) -> None:
    data = copy.deepcopy(world.data)
    for room in data["rooms"]:
        if room["key"] == "area-offenbach":
            room["platform"], room["address"] = "console", None
    directory = parse_directory(data)
    console = ConsoleAdapter(echo=False)
    app = await world.app(adapters=[console, world.adapter()], directory=directory)
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group Both worlds")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await world.delivered(app)
    assert number in console.transcript("area-offenbach")
    assert set(console.rooms) == {"area-offenbach"}
    await p["tk"].wait_for(r["gisc-tokyo"], bot, lambda t: number in t)


def test_configured_adapters_include_matrix_beside_console(sqlite_url: str) -> None:
    s = Settings(database_url=sqlite_url, adapters=["console", "matrix"],
                 matrix_homeserver="http://127.0.0.1:1", matrix_user_id="@bot:x",
                 matrix_password=SecretStr("pw"))
    from tests.conftest import EXAMPLE
    from wisbot.directory import load_directory

    app = App(s, directory=load_directory(EXAMPLE))
    built = app._configured_adapters()
    assert [type(a) for a in built] == [ConsoleAdapter, MatrixAdapter]
