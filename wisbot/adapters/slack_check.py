"""``wisbot slack check``: the workspace against the directory, before going live.

The bot token works (``auth.test``); the bot is a member of each bound channel; a closed
room's channel is private and holds no stranger (members not in the directory, or
outside the room's audience: the adapter's own room check, so the rule is the one the
running bot holds rooms by); every person bound to a Slack id exists and is active
(``users.info``). Nothing is posted and nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from wisbot.adapters.base import RoomRef
from wisbot.adapters.slack import PLATFORM, SlackAdapter, SlackStartError, delivery_error
from wisbot.directory import Directory, Room


@dataclass(frozen=True)
class Finding:
    level: str
    """ok, warning or error."""
    subject: str
    detail: str


async def _room(adapter: SlackAdapter, room: Room) -> Finding:
    subject = f"channel {room.key} ({room.target})"
    try:
        members = await adapter.room_members(RoomRef(platform=PLATFORM, address=room.target,
                                                     key=room.key))
    except SlackApiError as exc:
        return Finding("error", subject, str(delivery_error(exc, room.key)))
    except Exception as exc:  # unreachable, timeouts: say so, check the rest
        return Finding("error", subject, f"cannot read its members: {exc}")
    if adapter.bot_user_id and adapter.bot_user_id not in {m.address for m in members}:
        return Finding("error", subject, "the bot is not a member: invite it "
                       "(/invite @wisbot in the channel)")
    if not room.closed:
        return Finding("ok", subject, f"the bot is in; {len(members) - 1} other member(s); "
                       "an open room (no membership rule)")
    try:
        problem = await adapter._problem(room)
    except Exception as exc:
        return Finding("error", subject, f"cannot check it: {exc}")
    if problem:
        return Finding("error", subject, f"{problem} (the running bot holds this room's "
                       "protected posts until fixed)")
    return Finding("ok", subject, f"private, the bot is in, {len(members) - 1} other "
                   "member(s), all in its audience")


async def _person(adapter: SlackAdapter, contact_id: str, user_id: str) -> Finding:
    subject = f"contact {contact_id} ({user_id})"
    client = adapter._client()
    try:
        info = await client.users_info(user=user_id)
    except SlackApiError as exc:
        code = (exc.response.data or {}).get("error", "") if exc.response is not None else ""
        if code == "user_not_found":
            return Finding("error", subject, "no such Slack user: fix chat.slack in the "
                           "directory (the member id from the person's Slack profile)")
        return Finding("error", subject, str(delivery_error(exc, subject)))
    user: dict[str, Any] = info.get("user") or {}
    if user.get("deleted"):
        return Finding("error", subject, "the Slack account is deactivated: pages to this "
                       "person cannot arrive")
    if user.get("is_bot"):
        return Finding("error", subject, "that is a bot, not a person")
    return Finding("ok", subject, f"exists ({user.get('real_name') or user.get('name', '')})")


async def check_workspace(adapter: SlackAdapter, directory: Directory) -> list[Finding]:
    """Every finding, the token's first; the adapter is connected and closed here."""
    try:
        await adapter._connect(retry=False)
    except SlackStartError as exc:
        return [Finding("error", "token", str(exc))]
    out = [Finding("ok", "token", f"auth.test: the bot is {adapter.bot_user_id}")]
    try:
        rooms = [r for r in directory.rooms if r.platform == "slack"]
        if not rooms:
            out.append(Finding("warning", "rooms", "no room of the directory is on Slack "
                               "(platform: slack)"))
        for room in rooms:
            out.append(await _room(adapter, room))
        for contact in directory.contacts:
            user_id = contact.chat_id("slack")
            if user_id:
                out.append(await _person(adapter, str(contact.id), user_id))
    finally:
        await adapter.stop()
    return out
