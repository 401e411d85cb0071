"""The warning for a protected report typed as a message in a room that may not read it,
where the bot cannot remove the message (the console here stands for such a surface);
slash commands (no message in the room) get none. The redaction itself is tested on a
real Synapse (tests/matrix/test_matrix_operator.py)."""

from __future__ import annotations

from wisbot.adapters.base import Invocation, MessageRef, RoomRef, UserRef
from wisbot.adapters.console import render_text

SECRET = "Ransomware on the switch, tel +49 69 8062 4321"


def _inv(text: str, *, posted: bool) -> Invocation:
    return Invocation(platform="console", sender=UserRef("console", "anna.weber"), text=text,
                      room=RoomRef("console", "collaboration", "collaboration"),
                      reply_to=MessageRef("console", "collaboration", "m1") if posted
                      else None)


async def test_a_posted_protected_report_warns_with_the_count_and_says_delete(make_app):
    app = await make_app()
    # Who is in the room: the reporter, the Secretariat, two GISC desks and a stranger.
    app.console.members["collaboration"] |= {"anna.weber", "sec-desk", "gisc-tokyo",
                                             "gisc-exeter", "somebody-else"}
    reply = await app.dispatch(_inv(f"!incident report DE-OF-NC share=secretariat {SECRET}",
                                    posted=True))
    text = render_text(reply)
    assert reply.private
    assert "3 people outside the incident's audience can read it there" in text
    assert "Delete your message now" in text


async def test_a_report_the_room_may_read_or_a_slash_command_gets_no_warning(make_app):
    app = await make_app()
    app.console.members["collaboration"] |= {"anna.weber", "gisc-tokyo"}
    slash = await app.dispatch(_inv(f"incident report DE-OF-NC share=secretariat {SECRET}",
                                    posted=False))
    assert "Warning" not in render_text(slash)
    shown = await app.dispatch(_inv("incident report DE-OF-NC share=group Phishing wave",
                                    posted=True))
    assert "Warning" not in render_text(shown)
