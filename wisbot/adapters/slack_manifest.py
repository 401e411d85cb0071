"""The Slack app manifest, generated from the command registry.

``wisbot slack manifest`` prints it; ``deploy/slack-manifest.yaml`` is that output (a test
keeps them equal). The six commands of the product contract are always declared, so the
manifest does not change when a feature's commands land; any further top-level command in
the registry is added after them. Needs no Slack library.
"""

from __future__ import annotations

from typing import Any

import yaml

from wisbot.commands.registry import Registry

CONTRACT: dict[str, tuple[str, str]] = {
    "incident": ("Report and follow WIS IT-security incidents",
                 "report <centre> share=… [sev=0..5] <summary> | update | resolve | close | "
                 "reopen | share | show | list | query | evidence | stats | help"),
    "severity": ("The incident severity scale, or set an incident's severity",
                 "[<incident> <0-5> [reason]] | help"),
    "lessons": ("Lessons learned: add, list, search",
                "add <incident> [share=anonymous|named|none] <text> | list [incident] | "
                "search <words> | help"),
    "watch": ("GISC Watch: duty GISC, probes, tickets, reports, handover",
              "[roster | probe | ticket | report | handover | accept | escalate] | help"),
    "escalate": ("Escalate an incident, see who is on call, or raise an exchange dispute",
                 "<incident> [reason] | oncall [role] | exchange … | help"),
    "ack": ("Acknowledge a page or an incident", "<page or incident>"),
}
"""Slash commands of the product contract, with their description and usage hint."""

BOT_SCOPES = (
    "commands",          # slash commands
    "chat:write",        # post to channels the bot is a member of (never chat:write.public)
    "channels:read",     # conversations.info / conversations.members of public channels
    "groups:read",       # … of private channels
    "im:write",          # conversations.open: direct messages for pages
    "files:write",       # files.getUploadURLExternal/completeUploadExternal: the watch chart
    "users:read",        # user ids in events; `wisbot slack check`: users.info
    "channels:history",  # message.channels: `!incident …` typed in a public channel
    "groups:history",    # message.groups: … in a private channel
    "im:history",        # message.im: … in the bot's direct chat (App Home messages tab)
)
BOT_EVENTS = ("member_joined_channel", "member_left_channel", "message.channels",
              "message.groups", "message.im")
"""Room integrity: a join or leave re-checks the channel's members against the directory;
messages: a command typed as ``!incident …`` where the bot is."""


def slash_commands(registry: Registry) -> list[str]:
    names = list(CONTRACT)
    names.extend(n for n in registry.top_level() if n not in CONTRACT)
    return names


def build_manifest(registry: Registry, *, name: str = "wisbot",
                   request_url: str | None = None, command_prefix: str = "") -> dict[str, Any]:
    """Socket Mode by default; with ``request_url`` (``https://…/slack/events``) an
    HTTP-mode manifest whose commands, interactivity and events post there;
    ``command_prefix`` (``wis-``) names the commands ``/wis-incident`` etc."""
    commands: list[dict[str, Any]] = []
    for command in slash_commands(registry):
        description, hint = CONTRACT.get(command, (registry.summaries.get(command, command), ""))
        entry: dict[str, Any] = {"command": f"/{command_prefix}{command}",
                                 "description": description[:100]}
        if hint:
            entry["usage_hint"] = hint[:1000]
        if request_url:
            entry["url"] = request_url
        entry["should_escape"] = False
        commands.append(entry)
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url:
        events = {"request_url": request_url, **events}
        interactivity["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "WIS IT-security incident process and GISC Watch",
            "long_description": (
                "wisbot runs the WMO Information System IT-security incident process in "
                "closed chat rooms: incident reports with their confidentiality level, "
                "the cascade Secretariat → principal GISC → other GISCs → connected "
                "Members, severity, lessons learned, on-call paging with acknowledgement, "
                "and GISC Watch. Commands come from the same registry as on Matrix and "
                "the console."),
            "background_color": "#1f4e79",
        },
        "features": {
            # pages and private answers arrive in the bot's direct chat: its tab
            "app_home": {"home_tab_enabled": False, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


def check_request_url(url: str, *, allow_http_loopback: bool = False) -> str:
    """Slack posts only to https; plain http is accepted for a loopback address (a local
    test against a tunnel) only when asked for explicitly."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "http" and loopback and allow_http_loopback:
        return url
    if parts.scheme == "http" and loopback:
        raise ValueError(f"{url}: Slack sends requests only to https URLs; for a local "
                         "development set-up add --allow-http-loopback")
    raise ValueError(f"{url}: Slack sends requests only to https URLs (the public "
                     "https://…/slack/events address of your reverse proxy), or leave "
                     "--request-url out for Socket Mode")


def manifest_yaml(registry: Registry, **kwargs: Any) -> str:
    header = ("# Slack app manifest for wisbot, generated by `wisbot slack manifest`; do not\n"
              "# edit by hand. Create the app at https://api.slack.com/apps → Create New App\n"
              "# → From a manifest, and paste this file (see docs/slack.md).\n")
    body = yaml.safe_dump(build_manifest(registry, **kwargs), sort_keys=False,
                          allow_unicode=True, width=100)
    return header + body
