"""End-to-end encryption: an encrypted room works both ways on Synapse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.matrix.conftest import make_world
from tests.matrix.synapse import Synapse


async def test_encrypted_room_round_trip(synapse: Synapse, tmp_path: Path,
                                         sqlite_url: str) -> None:
    from nio.crypto import ENCRYPTION_ENABLED

    if not ENCRYPTION_ENABLED:
        pytest.fail("matrix-nio was installed without its e2e extra (wisbot[e2e])")
    world = await make_world(synapse, tmp_path, sqlite_url, encrypted=("member-de",),
                             e2e_people=("anna",))
    try:
        app = await world.app(adapters=[world.adapter(e2e=True)])
        anna, room, bot = world.people["anna"], world.rooms["member-de"], world.bot
        state = await anna.client.room_get_state_event(room, "m.room.encryption")
        assert state.content.get("algorithm") == "m.megolm.v1.aes-sha2"
        await anna.sync()
        await anna.say(room, "!incident report DE-OF-NC share=secretariat Encrypted report")
        text = await anna.wait_for(room, bot, lambda t: "Encrypted report" in t, within=30)
        assert "WIS-SEC-" in text
        # what anna read arrived encrypted and was decrypted by her own client
        got = [e for e in anna.events[room] if e.get("sender") == bot
               and "Encrypted report" in str(e.get("content"))]
        assert got and all(e.get("decrypted") for e in got)
        assert not any(e.get("undecrypted") for e in anna.events[room]
                       if e.get("sender") == bot)
        await world.delivered(app)
    finally:
        for a in reversed(world.apps):
            await a.stop()
        for p in world.people.values():
            await p.close()
