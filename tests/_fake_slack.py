"""A local fake of the Slack Web API, for tests and the benchmark.

Slack is a hosted service, so the Slack tests run slack-bolt's real request handling
against this fake: an aiohttp server on a random loopback port (``127.0.0.1:0``) that
answers the Web API methods wisbot uses (``auth.test``, ``chat.postMessage`` with its
message metadata, ``conversations.open|info|members|history``, ``chat.postEphemeral``,
``users.info``, ``apps.connections.open``), the external file upload
(``files.getUploadURLExternal`` → an upload_url on this server → the POST of the bytes →
``files.completeUploadExternal``), the ``response_url`` webhooks of slash commands and
buttons, and a Socket Mode websocket. It records every call and can answer ``429`` with
``Retry-After`` or a Slack error code per channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import yaml
from aiohttp import WSMsgType, web

from wisbot.directory import Directory, parse_directory

BOT_USER = "UWISBOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class SharedFile:
    """A file shared by ``files.completeUploadExternal``: its bytes are those POSTed to
    its upload_url."""

    id: str
    filename: str
    length: int
    content: bytes
    title: str
    channel: str
    thread_ts: str | None
    initial_comment: str | None


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        """(response_url name, JSON body) for every reply through a response_url."""
        self.public: set[str] = set()
        """Channels conversations.info reports as public; all others are private."""
        self.members: dict[str, list[str]] = {}
        """Channel → members beyond the bot (default: only the bot)."""
        self.errors: dict[str, str] = {}
        """Channel → Slack error code chat.postMessage answers (e.g. channel_not_found)."""
        self.rate_limited: dict[str, list[float]] = {}
        """Channel → Retry-After values: each post to it takes one and answers 429."""
        self.members_failures: dict[str, list[str]] = {}
        """Channel → failures conversations.members answers, one per call, first:
        ``"429"`` (rate limited, Retry-After 1) or a Slack error code."""
        self.auth_error: str | None = None
        """auth.test answers this Slack error (e.g. invalid_auth) when set."""
        self.bot_absent: set[str] = set()
        """Channels the bot is not a member of (conversations.members lists it not)."""
        self.unknown_users: set[str] = set()
        """User ids users.info answers user_not_found; every other U… id exists."""
        self.deleted_users: set[str] = set()
        """User ids users.info reports as deactivated."""
        self.post_delay = 0.0
        """Seconds chat.postMessage takes (the benchmark: a realistic round trip)."""
        self.hang_after_post: dict[str, list[float]] = {}
        """Channel → seconds: each post to it takes one, is accepted, and is answered only
        that much later (a timeout after sending: the client cannot know it went out)."""
        self.complete_errors: list[str] = []
        """Slack error codes files.completeUploadExternal answers, one per call, first."""
        self.upload_status: list[int] = []
        """HTTP statuses the upload POST answers, one per upload, first."""
        self.uploads: dict[str, dict[str, Any]] = {}
        """file id → filename, length and (once POSTed) the bytes of a pending upload."""
        self.files: list[SharedFile] = []
        """Files shared into a channel (completeUploadExternal accepted)."""
        self._file_ids = itertools.count(1)
        self.socket_acks: list[dict[str, Any]] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._ts = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- life cycle -------------------------------------------------------------------
    async def start(self, port: int = 0) -> FakeSlack:
        """Listen on ``port`` of the loopback (0: any free one)."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    # ----- what happened ------------------------------------------------------------------
    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted chat.postMessage calls (not the 429s or errors), optionally for one
        channel."""
        return [c.params for c in self.calls if c.method == "chat.postMessage"
                and c.params.get("_ok") and (channel is None or c.params["channel"] == channel)]

    def attempts(self, channel: str) -> list[Call]:
        return [c for c in self.calls if c.method == "chat.postMessage"
                and c.params.get("channel") == channel]

    def posted_channels(self) -> set[str]:
        return {p["channel"] for p in self.posts()}

    def files_in(self, channel: str | None = None) -> list[SharedFile]:
        return [f for f in self.files if channel is None or f.channel == channel]

    async def wait_for(self, predicate: Any, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the fake Slack did not see the expected calls in time")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_responses(self, count: int = 1) -> list[tuple[str, dict[str, Any]]]:
        await self.wait_for(lambda: len(self.responses) >= count)
        return self.responses

    def _note(self) -> None:
        self._changed.set()

    # ----- Web API ------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                params.update(json.loads(raw or "{}"))
            else:
                params.update(dict(parse_qsl(raw)))
        auth = request.headers.get("Authorization", "")
        call = Call(method, params, auth.removeprefix("Bearer ") or None)
        self.calls.append(call)
        try:
            return await self._answer(method, params)
        finally:
            self._note()

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        ok = web.json_response
        if method == "auth.test":
            if self.auth_error:
                return ok({"ok": False, "error": self.auth_error})
            return ok({"ok": True, "user_id": BOT_USER, "bot_id": "BWISBOT", "team_id": "T1",
                       "team": "WIS", "user": "wisbot", "url": "https://wis.example.org/"})
        if method == "chat.postMessage":
            channel = str(params.get("channel", ""))
            waits = self.rate_limited.get(channel)
            if waits:
                retry = waits.pop(0)
                return ok({"ok": False, "error": "ratelimited"}, status=429,
                          headers={"Retry-After": f"{retry:g}"})
            if channel in self.errors:
                return ok({"ok": False, "error": self.errors[channel]})
            if self.post_delay:
                await asyncio.sleep(self.post_delay)
            params["_ok"] = True
            params["_ts"] = f"1700000000.{next(self._ts):06d}"
            hang = self.hang_after_post.get(channel)
            if hang:
                self._note()
                await asyncio.sleep(hang.pop(0))
            return ok({"ok": True, "channel": channel, "ts": params["_ts"]})
        if method == "conversations.history":
            return ok(self._history(params))
        if method == "conversations.open":
            return ok({"ok": True, "channel": {"id": "D" + str(params.get("users", ""))}})
        if method == "conversations.info":
            channel = str(params.get("channel", ""))
            if channel in self.errors:
                return ok({"ok": False, "error": self.errors[channel]})
            return ok({"ok": True, "channel": {"id": channel, "is_channel": True,
                                               "is_private": channel not in self.public,
                                               "is_archived": False}})
        if method == "conversations.members":
            channel = str(params.get("channel", ""))
            failures = self.members_failures.get(channel)
            if failures:
                failure = failures.pop(0)
                if failure == "429":
                    return ok({"ok": False, "error": "ratelimited"}, status=429,
                              headers={"Retry-After": "1"})
                return ok({"ok": False, "error": failure})
            everyone = [*([] if channel in self.bot_absent else [BOT_USER]),
                        *self.members.get(channel, [])]
            # Pages of two, so the adapter must follow next_cursor.
            start = int(params.get("cursor") or 0)
            page = everyone[start:start + 2]
            more = start + 2 < len(everyone)
            return ok({"ok": True, "members": page,
                       "response_metadata": {"next_cursor": str(start + 2) if more else ""}})
        if method == "files.getUploadURLExternal":
            filename, length = str(params.get("filename", "")), params.get("length")
            if not filename or length is None:
                return ok({"ok": False, "error": "invalid_arguments"})
            file_id = f"F{next(self._file_ids):08d}"
            self.uploads[file_id] = {"filename": filename, "length": int(length)}
            return ok({"ok": True, "file_id": file_id,
                       "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}"})
        if method == "files.completeUploadExternal":
            if self.complete_errors:
                return ok({"ok": False, "error": self.complete_errors.pop(0)})
            channel = str(params.get("channel_id", ""))
            if channel in self.errors:
                return ok({"ok": False, "error": self.errors[channel]})
            raw_files = params.get("files")
            files = json.loads(raw_files) if isinstance(raw_files, str) else raw_files or []
            shared = []
            for entry in files:
                pending = self.uploads.get(str(entry.get("id")))
                if pending is None or "content" not in pending:
                    return ok({"ok": False, "error": "file_not_found"})
                shared.append(SharedFile(
                    id=str(entry["id"]), filename=pending["filename"],
                    length=pending["length"], content=pending["content"],
                    title=str(entry.get("title") or pending["filename"]), channel=channel,
                    thread_ts=params.get("thread_ts"),
                    initial_comment=params.get("initial_comment")))
            self.files.extend(shared)
            return ok({"ok": True, "files": [{"id": f.id, "name": f.filename,
                                              "title": f.title, "size": len(f.content)}
                                             for f in shared]})
        if method == "chat.postEphemeral":
            channel = str(params.get("channel", ""))
            if channel in self.errors:
                return ok({"ok": False, "error": self.errors[channel]})
            self._note()
            return ok({"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"})
        if method == "users.info":
            user = str(params.get("user", ""))
            if user in self.unknown_users or not user.startswith("U"):
                return ok({"ok": False, "error": "user_not_found"})
            return ok({"ok": True, "user": {"id": user, "name": user.lower(),
                                            "real_name": user.title(),
                                            "deleted": user in self.deleted_users,
                                            "is_bot": user == BOT_USER}})
        if method == "apps.connections.open":
            return ok({"ok": True, "url": f"ws://127.0.0.1:{self.port}/ws"})
        return ok({"ok": False, "error": "unknown_method"}, status=404)

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's accepted posts, newest first, in pages (``limit``, ``cursor``);
        their metadata only with ``include_all_metadata``, as Slack does."""
        channel = str(params.get("channel", ""))
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = []
        for p in reversed(self.posts(channel)):
            message: dict[str, Any] = {"type": "message", "user": BOT_USER, "ts": p["_ts"],
                                       "text": p.get("text", "")}
            meta = p.get("metadata")
            if with_meta and meta:
                message["metadata"] = json.loads(meta) if isinstance(meta, str) else meta
            messages.append(message)
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = messages[start:start + limit]
        more = start + limit < len(messages)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload_url: Slack answers 200 ``OK - <length>`` and keeps the bytes."""
        file_id = request.match_info["file_id"]
        content = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id, "length": len(content)}, None))
        self._note()
        if self.upload_status:
            status = self.upload_status.pop(0)
            if status != 200:
                return web.Response(status=status, text="upload failed")
        pending = self.uploads.get(file_id)
        if pending is None:
            return web.Response(status=404, text="unknown upload")
        pending["content"] = content
        return web.Response(text=f"OK - {len(content)}")

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append((request.match_info["name"], await request.json()))
        self._note()
        return web.Response(text="ok")

    # ----- Socket Mode --------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self._note()
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "AWISBOT"},
                                      "debug_info": {"host": "fake"}}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(msg.data))
                self._note()
        return ws

    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send a Socket Mode envelope (``slash_commands``, ``interactive``,
        ``events_api``) to the connected app; returns its envelope id."""
        envelope = str(uuid.uuid4())
        ws = next(ws for ws in self._sockets if not ws.closed)
        await ws.send_str(json.dumps({"envelope_id": envelope, "type": kind,
                                      "payload": payload, "accepts_response_payload": True}))
        return envelope


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: ``X-Slack-Signature`` = v0 HMAC-SHA256 of
    ``v0:<timestamp>:<body>`` with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


def slash_body(command: str, text: str, *, user: str, channel: str, response_url: str) -> str:
    return urlencode({
        "token": "legacy-verification-token", "team_id": "T1", "team_domain": "wis",
        "channel_id": channel, "channel_name": "directmessage" if channel.startswith("D")
        else "bound-channel", "user_id": user, "user_name": user.lower(),
        "command": command, "text": text, "api_app_id": "AWISBOT",
        "response_url": response_url, "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    })


def block_actions_payload(*, user: str, channel: str, action: dict[str, Any],
                          response_url: str, message_ts: str = "1700000000.000001",
                          ) -> dict[str, Any]:
    return {
        "type": "block_actions", "team": {"id": "T1", "domain": "wis"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "AWISBOT", "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                      "is_ephemeral": False},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": channel, "name": "bound-channel"},
        "message": {"type": "message", "ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [{**action, "block_id": "b1", "action_ts": "1700000001.000001"}],
    }


def slack_id(prefix: str, key: str) -> str:
    """``slack_id("C", "gisc-offenbach")`` → ``"CGISCOFFENBACH"``."""
    return prefix + "".join(ch for ch in key.upper() if ch.isalnum())


def slack_directory(example: Path, *, console_rooms: tuple[str, ...] = (),
                    open_rooms: tuple[str, ...] = (), only_rooms: tuple[str, ...] | None = None,
                    ) -> Directory:
    """The example directory with its rooms on Slack (channel ``slack_id("C", key)``)
    except ``console_rooms``, and every contact given the Slack id ``slack_id("U", id)``."""
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    for contact in data["contacts"]:
        contact.setdefault("chat", {})["slack"] = slack_id("U", contact["id"])
    rooms = []
    for room in data["rooms"]:
        if only_rooms is not None and room["key"] not in only_rooms:
            continue
        if room["key"] not in console_rooms:
            room["platform"] = "slack"
            room["address"] = slack_id("C", room["key"])
        if room["key"] in open_rooms:
            room["closed"] = False
        rooms.append(room)
    data["rooms"] = rooms
    group = data.get("working_group") or {}
    if group.get("room") and group["room"] not in {r["key"] for r in rooms}:
        group.pop("room")  # left out by only_rooms: referrals go by e-mail only
        if not group.get("email"):
            data.pop("working_group")
    return parse_directory(data, "slack test directory")
