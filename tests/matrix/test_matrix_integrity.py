"""Room integrity, invitations, reactions and replies as acknowledgements."""

from __future__ import annotations

import re

from tests.matrix.conftest import World


async def test_stranger_invited_into_a_gisc_room_holds_posts_until_gone(world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    stranger = world.regs["stranger"].user_id
    # a member cannot invite anyone into a provisioned room ...
    resp = await p["of"].client.room_invite(r["gisc-offenbach"], stranger)
    assert getattr(resp, "status_code", None) == "M_FORBIDDEN", resp
    # ... the bot's account can (misused, or an admin): the room is held
    await world.invite_stranger("gisc-offenbach")
    alert = await p["sec"].wait_for(r["secretariat"], bot,
                                    lambda t: "gisc-offenbach is on hold" in t)
    assert stranger.replace("@", "@\u2060") in alert
    assert "gisc-offenbach" in app.holds
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc "
                        "Held while a stranger is invited")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: number in t)
    # the stranger, invited, reads nothing; the room gets nothing while held
    await p["of"].sync()
    assert number not in p["of"].read(r["gisc-offenbach"], bot)
    # a command typed in the held room is refused, nothing protected is shown
    await p["of"].say(r["gisc-offenbach"], f"!incident show {number}")
    refusal = await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: "on hold" in t)
    assert number not in refusal
    # the stranger declines: the room is clean, the held post arrives
    await p["stranger"].sync()
    await p["stranger"].client.room_leave(r["gisc-offenbach"])
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "clean again" in t)
    await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: number in t)
    assert "gisc-offenbach" not in app.holds
    await p["stranger"].sync()
    assert number not in str(p["stranger"].events)


async def test_invitations_from_strangers_are_refused_and_reported(world: World) -> None:
    p, bot = world.people, world.bot
    await world.app()
    from nio import RoomCreateResponse

    resp = await p["stranger"].client.room_create(name="lure", invite=[bot])
    assert isinstance(resp, RoomCreateResponse)
    alert = await p["sec"].wait_for(world.rooms["secretariat"], bot,
                                    lambda t: "invitation refused" in t)
    assert resp.room_id in alert
    members = await p["stranger"].client.joined_members(resp.room_id)
    assert bot not in {m.user_id for m in members.members}


async def test_reaction_or_ack_reply_on_an_incident_notice_acknowledges_nothing(
        world: World) -> None:
    """Only a page acknowledges (see test_matrix_sync_path): a ✅ or 👍 on an incident
    notice does nothing; a typed ``ack`` reply to it gets a hint."""
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc Ack me")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await world.delivered(app)
    post = await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: number in t)
    assert post
    (event,) = [n["event_id"] for n in p["of"].notices(r["gisc-offenbach"], bot)]
    await p["of"].react(r["gisc-offenbach"], event)
    await p["of"].react(r["gisc-offenbach"], event, "👍")
    await p["of"].say(r["gisc-offenbach"], f"> <{bot}> {number}\n\nack",
                      **{"m.relates_to": {"m.in_reply_to": {"event_id": event}}})
    await world.delivered(app)
    hint = await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: "Only a page" in t)
    assert "no open page" not in hint and "Acknowledged" not in hint
    # the reactions came first and produced nothing: the hint is the only answer
    assert len(p["of"].notices(r["gisc-offenbach"], bot)) == 2
