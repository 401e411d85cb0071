"""The Slack adapter, on slack-bolt's :class:`~slack_bolt.async_app.AsyncApp`.

* **Socket Mode** (default: no public endpoint, the norm on a closed network) with the
  app-level token ``xapp-…``, or **HTTP mode** behind a reverse proxy, where bolt verifies
  every request's signature with the signing secret (a bad or stale one gets 401).
* One slash command per top-level command (:mod:`wisbot.adapters.slack_manifest`). Each is
  acknowledged at once (Slack's 3-second limit), then dispatched; the reply goes back
  through the request's ``response_url``: ephemeral when only the caller should see it,
  in the channel otherwise. Cascades are channel messages sent by the outbox through
  :meth:`SlackAdapter.send`.
* Buttons (``block_actions``) run their action's command for the person who clicked.
* Delivery: at most one message per second per channel (Slack's limit), in parallel
  across channels; HTTP 429 gives :class:`DeliveryError` with ``retry_after`` from the
  ``Retry-After`` header; the API unreachable, timeouts and 5xx are ``transient``; errors
  that need the operator (``channel_not_found``, ``not_in_channel``, ``is_archived``,
  token errors…) are ``no_access``: the outbox reports the channel once and its queue
  waits for the fix; errors no retry can fix for that message (``msg_too_long``,
  ``invalid_blocks``, an unknown user…) are permanent, so the outbox dead-letters it and
  alerts the Secretariat. Every failure logs one line that says what to do.
* Idempotency: Slack has none, so every post carries its delivery key in its message
  metadata (``event_type`` ``wisbot_delivery``). A post whose outcome is unknown (a
  timeout or a 5xx after the request went out) is looked up by that key with
  ``conversations.history`` (``include_all_metadata``) before it is posted again: by the
  adapter itself when it retries, and by the outbox (:meth:`SlackAdapter.find_sent`)
  when another process retries a row.
* Files (the watch chart): a Reply's attachments are uploaded after its message, to the
  same channel in the message's thread, with Slack's external upload
  (``files.getUploadURLExternal`` → POST of the bytes → ``files.completeUploadExternal``,
  i.e. slack_sdk's ``files_upload_v2``; scope ``files:write``). A failed upload is a
  :class:`DeliveryError` like a failed post; the adapter remembers what it already posted
  and uploaded per delivery key, so the outbox's retry re-attempts only the missing
  upload, never the message text.
* Room integrity: each bound channel's members (``conversations.members``) are checked
  against the directory and the room's audience (a contact outside it is a stranger
  there too: :func:`wisbot.services.context.may_be_in_room`), and a public channel bound
  as closed is refused (``conversations.info``); at start, on every join or leave, and
  periodically. A failing channel's deliveries are held (the hold registry, stored in
  the database), never dropped, and the Secretariat is told. Fail closed: until its
  first check passes, and while ``conversations.info``/``members`` fail or are rate
  limited (retried with backoff), a closed channel is held.

All Slack Web API errors become :class:`DeliveryError` in one place, :func:`delivery_error`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from wisbot import i18n
from wisbot.adapters.base import (
    DeliveryError,
    Dispatch,
    Invocation,
    MessageRef,
    RoomRef,
    UserRef,
)
from wisbot.adapters.slack_manifest import slash_commands
from wisbot.adapters.slack_render import ACTION_PREFIX, render_blocks, render_text
from wisbot.adapters.slack_text import typed_text
from wisbot.clock import utcnow
from wisbot.commands import build_registry
from wisbot.directory import Directory, Room
from wisbot.errors import WisbotError
from wisbot.i18n import N_, said
from wisbot.i18n import _ as _t
from wisbot.ids import Platform
from wisbot.reply import Attachment, Reply, ReplyBuilder, Span
from wisbot.services.context import may_be_in_room

if TYPE_CHECKING:
    from wisbot.services.holds import HoldRegistry

log = logging.getLogger(__name__)
PLATFORM = Platform("slack")
METADATA_EVENT = "wisbot_delivery"
"""The metadata event type of every post: its payload is ``{"key": <delivery key>}``."""

MESSAGE_PREFIX = "!"
"""A message starting with it is a command (``!incident list``), as on Matrix."""

PERMANENT_ERRORS: dict[str, str] = {
    "channel_not_found": "the channel does not exist or the bot cannot see it: check the "
                         "room's address (channel id) in the directory",
    "not_in_channel": "the bot is not a member of the channel: invite it (/invite @wisbot)",
    "is_archived": "the channel is archived: unarchive it or bind another channel",
    "invalid_auth": "the bot token is not valid: check WISBOT_SLACK_BOT_TOKEN",
    "not_authed": "no bot token was sent: set WISBOT_SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked: reinstall the app and set the new token",
    "token_expired": "the bot token expired: reinstall the app and set the new token",
    "account_inactive": "the bot's account is deactivated: reinstall the app",
    "missing_scope": "the app lacks a scope (files:write for the watch chart, if the app "
                     "predates it): update it from deploy/slack-manifest.yaml and reinstall",
    "no_permission": "the app may not post there: check the workspace's settings",
    "restricted_action": "a workspace setting forbids the bot to post in this channel",
    "ekm_access_denied": "the workspace's EKM keys were revoked",
    "team_access_not_granted": "the token has no access to this workspace",
    "cannot_dm_bot": "that user is a bot and cannot get a direct message",
    "user_not_found": "the Slack user id in the directory does not exist",
    "user_disabled": "that Slack user is deactivated",
    "invalid_blocks": "Slack rejected wisbot's message layout (a wisbot bug: report it)",
    "msg_too_long": "the message is too long for Slack",
}
"""Slack error codes retrying cannot fix, with what the operator should do."""

NO_ACCESS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
    "token_revoked", "token_expired", "account_inactive", "no_permission",
    "restricted_action", "ekm_access_denied", "team_access_not_granted"})
"""Of those, the ones where the bot may not post there until the operator acts: the
channel's queue waits for the fix instead of each message becoming a dead letter."""

TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable",
                       "request_timeout", "ratelimited"})
"""Slack's own failures: retried without counting an attempt."""


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value[0] if isinstance(value, list | tuple) else value)
    return None


def delivery_error(exc: BaseException, where: str, *, file: str | None = None
                   ) -> DeliveryError:
    """The one choke point from Slack's errors to :class:`DeliveryError`; ``file``: the
    error is of uploading that file to ``where``, not of posting a message."""
    verb, doing = (f"upload {file} to", f"uploading {file} to") if file else ("post to",
                                                                               "posting to")
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", None)
        data = getattr(response, "data", None)
        code = data.get("error", "") if isinstance(data, dict) else ""
        if status == 429 or code == "ratelimited":
            raw = _header(getattr(response, "headers", None), "Retry-After")
            try:
                retry_after = max(0.0, float(raw)) if raw is not None else 1.0
            except ValueError:
                retry_after = 1.0
            return DeliveryError(f"slack: rate limited {doing} {where} (HTTP {status}, "
                                 f"ratelimited); retrying after {retry_after:g}s",
                                 retry_after=retry_after)
        if code in PERMANENT_ERRORS:
            access = code in NO_ACCESS
            return DeliveryError(f"slack: cannot {verb} {where}: {code}: "
                                 f"{PERMANENT_ERRORS[code]}", permanent=not access,
                                 no_access=access)
        transient = code in TRANSIENT or (isinstance(status, int) and status >= 500)
        return DeliveryError(f"slack: {doing} {where} failed: {code or f'HTTP {status}'}",
                             transient=transient)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError | SlackRequestError):
        upload = f" (uploading {file})" if file else ""
        return DeliveryError(f"slack: cannot reach the Slack API for {where}{upload}: "
                             f"{type(exc).__name__}: {exc}", transient=True)
    return DeliveryError(f"slack: {doing} {where} failed: {type(exc).__name__}: {exc}")


class ChannelPacer:
    """At most one message per ``interval`` seconds per channel; channels run in parallel.

    ``defer`` pushes a channel's next slot out (a 429's ``Retry-After``)."""

    def __init__(self, interval: float, *, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        self.interval = interval
        self.monotonic = monotonic
        self._next: dict[str, float] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        async with self._locks[channel]:
            wait = self._next.get(channel, 0.0) - self.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._next[channel] = max(self._next.get(channel, 0.0),
                                          self.monotonic() + self.interval)

    def defer(self, channel: str, seconds: float) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self.monotonic() + seconds)


class SlackStartError(WisbotError):
    """The Slack adapter cannot start: the message says why and what to do."""


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    mode: Literal["socket", "http"] = "socket"
    http_host: str = "127.0.0.1"
    http_port: int = 3000
    http_path: str = "/slack/events"
    api_base_url: str | None = None
    """Web API base, e.g. ``https://slack.com/api/`` (tests: a local fake)."""
    pace_seconds: float = 1.0
    integrity_interval: float = 600.0
    command_prefix: str = ""
    """Slash commands are ``/<prefix><command>`` (``wis-``: ``/wis-incident``)."""
    connect_backoff_max: float = 60.0
    """Longest wait between tries while the Slack API is unreachable at start, s."""
    timeout: float = 30.0
    """Overall deadline of one Web API call, s: past it, a post's outcome is unknown."""
    """Seconds between periodic room-integrity checks; 0 turns the periodic check off."""


Alert = Callable[[Reply | Callable[[], Reply]], Awaitable[None]]
"""Tells the Secretariat: a Reply, or a function that builds it in the current language
(called once per language of the Secretariat's rooms)."""
DirectAnswer = Callable[[str, Reply], Awaitable[None]]
"""Enqueues a reply to a directory contact's direct chat through the outbox."""


def _remember(done: OrderedDict[str, Any], key: str, value: Any, limit: int = 10_000) -> None:
    done[key] = value
    while len(done) > limit:
        done.popitem(last=False)


class SlackAdapter:
    """See the module docstring. ``directory``, ``holds`` and ``alert`` enable room
    integrity: ``holds`` is the application's hold registry (stored holds), ``alert``
    tells the Secretariat room."""

    platform: Platform = PLATFORM

    def __init__(self, config: SlackConfig, *, directory: Directory | None = None,
                 holds: HoldRegistry | None = None, alert: Alert | None = None,
                 on_release: Callable[[], None] | None = None,
                 direct_answer: DirectAnswer | None = None) -> None:
        if config.mode == "socket" and not config.app_token:
            raise ValueError("Slack Socket Mode needs the app-level token (xapp-…): set "
                             "WISBOT_SLACK_APP_TOKEN, or WISBOT_SLACK_MODE=http")
        if config.mode == "http" and not config.signing_secret:
            raise ValueError("Slack HTTP mode needs the signing secret: set "
                             "WISBOT_SLACK_SIGNING_SECRET")
        self.config = config
        self.directory = directory
        self.holds = holds
        self.alert = alert
        self.on_release = on_release
        self.direct_answer = direct_answer
        self.pacer = ChannelPacer(config.pace_seconds)
        self.timeout = config.timeout
        self.dispatch: Dispatch | None = None
        self.client: AsyncWebClient | None = None
        self.bolt: AsyncApp | None = None
        self.bot_user_id: str | None = None
        self.http_port: int | None = None
        """The bound HTTP port once started in HTTP mode (port 0 picks a free one)."""
        self.problems: dict[str, str] = {}
        """Room key → why the room is held (room integrity)."""
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._periodic: asyncio.Task[None] | None = None
        self._dm_channels: dict[str, str] = {}
        self._retries: dict[str, float] = {}
        self._rechecks: dict[str, asyncio.Task[None]] = {}
        self._sent: OrderedDict[str, MessageRef] = OrderedDict()
        """Delivery key → the message Slack took (a retry does not post it again)."""
        self._doubt: OrderedDict[str, str] = OrderedDict()
        """Delivery key → channel, for posts whose outcome is unknown (looked up before
        they are posted again)."""
        self._uploaded: OrderedDict[str, str] = OrderedDict()
        """``key#n`` → Slack file id of the key's n-th attachment, once shared."""

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> SlackAdapter:
        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        token = secret(settings.slack_bot_token)
        if not token:
            raise ValueError("the Slack adapter needs the bot token (xoxb-…): set "
                             "WISBOT_SLACK_BOT_TOKEN")
        return cls(SlackConfig(
            bot_token=token, app_token=secret(settings.slack_app_token),
            signing_secret=secret(settings.slack_signing_secret), mode=settings.slack_mode,
            http_host=settings.slack_http_host, http_port=settings.slack_http_port,
            api_base_url=settings.slack_api_base_url, pace_seconds=settings.slack_pace_seconds,
            integrity_interval=settings.slack_integrity_interval,
            command_prefix=settings.slack_command_prefix), **kwargs)

    # ----- life cycle -------------------------------------------------------------------
    async def start_outbound(self) -> None:
        """Send only (a replica that does not lead): the Web API client, no Socket Mode,
        no HTTP endpoint, no integrity checks."""
        if self.client is None:
            await self._connect()

    async def stop_inbound(self) -> None:
        """Back to sending only (the lead was lost)."""
        await self._stop_inbound()

    def follower_sends(self, room: Any) -> bool:
        return True  # the Web API is stateless

    async def _connect(self, *, retry: bool = True) -> None:
        """The Web API client and ``auth.test``. While Slack cannot be reached (network,
        5xx, rate limit) it is asked again with backoff, one log line per try, unless
        ``retry`` is false; a refused token is an error at once."""
        cfg = self.config
        # slack_sdk applies its own timeout only to sessions it makes: this one needs it.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=cfg.timeout))
        client_args: dict[str, Any] = {"token": cfg.bot_token, "session": self._session,
                                       "timeout": cfg.timeout}
        if cfg.api_base_url:
            client_args["base_url"] = cfg.api_base_url.rstrip("/") + "/"
        self.client = AsyncWebClient(**client_args)
        where = cfg.api_base_url or "https://slack.com/api/"
        delay = 1.0
        while True:
            try:
                auth = await asyncio.wait_for(self.client.auth_test(), cfg.timeout)
                break
            except SlackApiError as exc:
                error = delivery_error(exc, "auth.test")
                if not (error.transient or error.retry_after is not None):
                    await self._close_session()
                    self.client = None
                    raise SlackStartError(f"Slack refused the bot token: {error}") from None
                why = str(error)
            except (aiohttp.ClientError, TimeoutError, OSError, SlackRequestError) as exc:
                why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if not retry:
                await self._close_session()
                self.client = None
                raise SlackStartError(f"cannot reach the Slack API at {where}: {why}")
            log.warning("slack: cannot reach the Slack API at %s (%s); trying again in "
                        "%.0f s", where, why, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cfg.connect_backoff_max)
        self.bot_user_id = str(auth.get("user_id") or "") or None

    async def start(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        cfg = self.config
        if self.client is None:
            await self._connect()
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=cfg.signing_secret or "",
            request_verification_enabled=cfg.mode == "http",
            raise_error_for_unhandled_request=False,
            logger=logging.getLogger("wisbot.adapters.slack.bolt"),
        )
        self._register(self.bolt)
        if self.directory is not None:
            await self.check_rooms()
            if cfg.integrity_interval > 0:
                self._periodic = asyncio.create_task(self._check_periodically(),
                                                     name="wisbot-slack-integrity")
        if cfg.mode == "socket":
            self._socket = AsyncSocketModeHandler(self.bolt, cfg.app_token,
                                                  web_client=self.client)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode as %s", self.bot_user_id)
        else:
            await self._serve_http()
            log.info("slack: listening for signed requests on http://%s:%s%s",
                     cfg.http_host, self.http_port, cfg.http_path)

    async def _serve_http(self) -> None:
        bolt = self.bolt
        assert bolt is not None

        async def handle(request: web.Request) -> web.Response:
            bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_post(self.config.http_path, handle)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.http_host, self.config.http_port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else self.config.http_port

    async def stop(self) -> None:
        await self._stop_inbound()
        await self._close_session()
        self.client = None

    async def _stop_inbound(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.gather(self._periodic, return_exceptions=True)
            self._periodic = None
        rechecks = list(self._rechecks.values())
        self._rechecks.clear()
        for task in rechecks:
            task.cancel()
        await asyncio.gather(*rechecks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.dispatch = None

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("slack: background task %s failed", name)

        task = asyncio.create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- incoming: slash commands, buttons, membership events ----------------------------
    def _register(self, bolt: AsyncApp) -> None:
        for name in slash_commands(build_registry()):
            bolt.command(f"/{self.config.command_prefix}{name}")(self._on_command)
        bolt.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}\d+$"))(self._on_action)
        bolt.event("member_joined_channel")(self._on_membership)
        bolt.event("member_left_channel")(self._on_membership)
        bolt.event("message")(self._on_message)

    def _room_of(self, channel_id: str | None) -> RoomRef | None:
        """Direct-message channels (``D…``) are a direct conversation: no room."""
        if not channel_id or channel_id.startswith("D"):
            return None
        room = self.directory.room_by_address("slack", channel_id) if self.directory else None
        return RoomRef(platform=PLATFORM, address=channel_id, key=room.key if room else None)

    def _note_unknown(self, user_id: str, where: str) -> None:
        if self.directory is not None and self.directory.contact_by_chat("slack",
                                                                         user_id) is None:
            log.warning("slack: refused a command from %s in %s: not in the directory",
                        user_id, where)

    async def _run(self, inv: Invocation, respond: Any) -> None:
        if self.dispatch is None:
            return
        reply = await self.dispatch(inv)
        try:
            sent = await respond(text=render_text(reply), blocks=render_blocks(reply),
                                 response_type="ephemeral" if reply.private else "in_channel",
                                 replace_original=False)
            # slack_sdk's webhook client returns an HTTP error as a response, not raised.
            status = getattr(sent, "status_code", 200)
            if not 200 <= status < 300:
                raise RuntimeError(f"HTTP {status}: {getattr(sent, 'body', '')}"[:300])
        except Exception as exc:  # the caller's reply only; the work is done
            log.error("slack: could not answer %s in %s through response_url: %s",
                      inv.sender.address, inv.room.address if inv.room else "a DM", exc)
            await self._answer_directly(inv, reply)

    async def _answer_directly(self, inv: Invocation, reply: Reply) -> None:
        """The response_url failed: the answer goes to the caller's direct chat through
        the outbox (retried like every delivery), so it is not lost. Only the caller
        reads it there, and they were to read it anyway."""
        contact = self.directory.contact_by_chat(PLATFORM, inv.sender.address) \
            if self.directory is not None else None
        if contact is None or self.direct_answer is None:
            return
        where = inv.room.key or inv.room.address if inv.room else None
        private = reply
        if where:
            with i18n.use(reply.lang):  # the answer's language: the room's, read by one
                intro = (Span(text=_t("In answer to your command in {where}:",
                                      where=where), style="italic"),)
            private = reply.model_copy(update={"lines": (intro, *reply.lines)})
        try:
            await self.direct_answer(contact.id, private.model_copy(update={"private": True}))
        except Exception:
            log.exception("slack: the answer to %s could not be queued either",
                          inv.sender.address)

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()  # within Slack's 3 s; the work follows
        user_id = str(body.get("user_id", ""))
        channel = str(body.get("channel_id", "")) or None
        command = str(body.get("command", "")).lstrip("/")
        command = command.removeprefix(self.config.command_prefix)
        text = f"{command} {body.get('text') or ''}".strip()
        self._note_unknown(user_id, channel or "a DM")
        inv = Invocation(platform=PLATFORM, sender=UserRef(platform=PLATFORM, address=user_id),
                         text=text, room=self._room_of(channel), received_at=utcnow(),
                         extra={"via": "slash", "team_id": str(body.get("team_id", ""))})
        await self._run(inv, respond)

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any],
                         respond: Any) -> None:
        await ack()
        user_id = str((body.get("user") or {}).get("id", ""))
        channel = (body.get("channel") or {}).get("id")
        self._note_unknown(user_id, channel or "a DM")
        inv = Invocation(platform=PLATFORM, sender=UserRef(platform=PLATFORM, address=user_id),
                         text=str(action.get("value", "")), room=self._room_of(channel),
                         received_at=utcnow(), extra={"via": "button"})
        await self._run(inv, respond)

    async def _on_message(self, event: dict[str, Any]) -> None:
        """``!incident …`` typed as a message (channels the bot is in, its direct chat):
        the same dispatcher (and holds) as a slash command; the answer goes to the person
        only (ephemeral) unless the room may read it all."""
        if event.get("subtype") or event.get("bot_id") or event.get("thread_ts"):
            return  # edits, joins, bots (wisbot itself), thread replies: not commands
        user_id = str(event.get("user", ""))
        text = typed_text(str(event.get("text", ""))).strip()
        if not user_id or user_id == self.bot_user_id or not text.startswith(MESSAGE_PREFIX):
            return
        channel = str(event.get("channel", "")) or None
        self._note_unknown(user_id, channel or "a DM")
        ts = str(event.get("ts", ""))
        # The channel reads the message: reply_to lets the wrong-room check see it.
        inv = Invocation(platform=PLATFORM, sender=UserRef(platform=PLATFORM, address=user_id),
                         text=text[len(MESSAGE_PREFIX):].strip(), room=self._room_of(channel),
                         received_at=utcnow(), extra={"via": "message"},
                         reply_to=MessageRef(PLATFORM, channel, ts) if channel and ts
                         else None)
        await self._run(inv, self._message_responder(channel, user_id))

    def _message_responder(self, channel: str | None, user_id: str) -> Callable[..., Any]:
        """A ``respond`` for a message command: Slack gives it no response_url."""

        async def respond(*, text: str, blocks: Any, response_type: str,
                          replace_original: bool = False) -> Any:
            client = self._client()
            if channel is None:
                return None
            if response_type == "ephemeral" and not channel.startswith("D"):
                return await client.chat_postEphemeral(channel=channel, user=user_id,
                                                       text=text, blocks=blocks)
            async with self.pacer.slot(channel):
                return await client.chat_postMessage(channel=channel, text=text,
                                                     blocks=blocks, unfurl_links=False,
                                                     unfurl_media=False)

        return respond

    async def _on_membership(self, event: dict[str, Any]) -> None:
        channel = str(event.get("channel", ""))
        room = self.directory.room_by_address("slack", channel) if self.directory else None
        if room is not None:
            self._spawn(self.check_room(room), f"wisbot-slack-check-{room.key}")

    # ----- outgoing -------------------------------------------------------------------------
    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        return await self._post(room.address, reply, key=key, where=room.key or room.address)

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef:
        channel = await self._dm_channel(user)
        return await self._post(channel, reply, key=key, where=f"@{user.address}")

    async def _dm_channel(self, user: UserRef) -> str:
        channel = self._dm_channels.get(user.address)
        if channel is None:
            client = self._client()
            try:
                opened = await client.conversations_open(users=user.address)
            except Exception as exc:  # classified below
                error = delivery_error(exc, f"a direct message to {user.address}")
                log.error("%s", error)
                raise error from None
            channel = str((opened.get("channel") or {}).get("id", ""))
            self._dm_channels[user.address] = channel
        return channel

    async def find_sent(self, room: RoomRef | UserRef, key: str) -> MessageRef | None:
        """The message posted with delivery ``key`` in ``room`` (or the direct
        conversation with a user), if Slack has it: the outbox asks before it retries a
        row whose last try may have gone out; a message found is not posted again."""
        ref = self._sent.get(key)
        if ref is None:
            if isinstance(room, UserRef):
                channel, where = await self._dm_channel(room), f"@{room.address}"
            else:
                channel, where = room.address, room.key or room.address
            ref = await self._find(channel, key, where=where)
            if ref is not None:
                _remember(self._sent, key, ref)
        return ref

    async def _find(self, channel: str, key: str, *, where: str, pages: int = 3
                    ) -> MessageRef | None:
        """Look ``key`` up in the metadata of the channel's latest messages."""
        client = self._client()
        cursor: str | None = None
        for _ in range(pages):
            args: dict[str, Any] = {"channel": channel, "limit": 200,
                                    "include_all_metadata": True}
            if cursor:
                args["cursor"] = cursor
            try:
                page = await asyncio.wait_for(client.conversations_history(**args),
                                              self.timeout)
            except Exception as exc:  # classified in _failure
                raise self._failure(exc, channel, where) from None
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if meta.get("event_type") == METADATA_EVENT and \
                        (meta.get("event_payload") or {}).get("key") == key:
                    log.info("slack: %s was already posted to %s (ts %s): not posted again",
                             key, where, message.get("ts"))
                    return MessageRef(platform=PLATFORM, room=channel,
                                      id=str(message.get("ts", "")))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None

    async def _post(self, channel: str, reply: Reply, *, key: str, where: str) -> MessageRef:
        ref = self._sent.get(key)
        if ref is None and key in self._doubt:
            ref = await self._find(self._doubt[key], key, where=where)
        if ref is None:
            try:
                ref = await self._post_message(channel, reply, key=key, where=where)
            except DeliveryError as exc:
                if exc.transient:  # it may have gone out: look before posting again
                    _remember(self._doubt, key, channel)
                raise
            _remember(self._sent, key, ref)
        self._doubt.pop(key, None)
        # else: a retry of a send Slack already took: the text is not posted twice
        for n, attachment in enumerate(reply.attachments):
            file_key = f"{key}#{n}"
            if file_key in self._uploaded:
                continue
            file_id = await self._upload(ref, attachment, where=where)
            _remember(self._uploaded, file_key, file_id)
        return ref

    def _failure(self, exc: BaseException, channel: str, where: str, *,
                 file: str | None = None) -> DeliveryError:
        error = delivery_error(exc, where, file=file)
        if error.retry_after is not None:
            self.pacer.defer(channel, error.retry_after)
            log.warning("%s", error)
        else:
            log.error("%s", error)
        return error

    async def _post_message(self, channel: str, reply: Reply, *, key: str, where: str
                            ) -> MessageRef:
        client = self._client()
        files_follow = bool(reply.attachments)
        async with self.pacer.slot(channel):
            try:
                response = await asyncio.wait_for(client.chat_postMessage(
                    channel=channel, text=render_text(reply, files_follow=files_follow),
                    blocks=render_blocks(reply, files_follow=files_follow),
                    unfurl_links=False, unfurl_media=False,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}}),
                    self.timeout)
            except Exception as exc:  # classified in _failure
                raise self._failure(exc, channel, where) from None
        return MessageRef(platform=PLATFORM, room=str(response.get("channel") or channel),
                          id=str(response.get("ts", "")))

    async def _upload(self, message: MessageRef, attachment: Attachment, *, where: str) -> str:
        """Share ``attachment`` in ``message``'s thread; the Slack file id."""
        client = self._client()
        channel = message.room
        async with self.pacer.slot(channel):  # the file shows as a post in the channel
            try:
                response = await client.files_upload_v2(
                    channel=channel, thread_ts=message.id or None,
                    filename=attachment.name, title=attachment.name,
                    content=attachment.content())
            except Exception as exc:  # classified in _failure
                raise self._failure(exc, channel, where, file=attachment.name) from None
        shared = response.get("file") or {}
        log.info("slack: uploaded %s (%d bytes) to %s", attachment.name, attachment.size,
                 where)
        return str(shared.get("id", "")) if isinstance(shared, dict) else ""

    @property
    def checks_rooms(self) -> bool:
        """Whether this adapter checks its closed rooms (the app holds them until then)."""
        return self.directory is not None and self.holds is not None

    def _client(self) -> AsyncWebClient:
        if self.client is None:
            raise DeliveryError("the Slack adapter is not started")
        return self.client

    async def room_members(self, room: RoomRef) -> set[UserRef]:
        client = self._client()
        members: set[UserRef] = set()
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"channel": room.address, "limit": 200}
            if cursor:
                args["cursor"] = cursor
            page = await client.conversations_members(**args)
            members.update(UserRef(platform=PLATFORM, address=str(m))
                           for m in page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return members

    # ----- room integrity -------------------------------------------------------------------
    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.integrity_interval)
            try:
                await self.check_rooms()
            except Exception:
                log.exception("slack: periodic room check failed")

    async def check_rooms(self) -> dict[str, str]:
        """Check every bound Slack channel; returns room key → problem for held rooms."""
        if self.directory is None:
            return {}
        rooms = [r for r in self.directory.rooms if r.platform == "slack"]
        await asyncio.gather(*(self.check_room(r) for r in rooms))
        return dict(self.problems)

    async def check_room(self, room: Room) -> str | None:
        """The problem that holds ``room``, or None when it may receive protected posts.

        Fails closed: when Slack cannot be asked (rate limit, API or network error) the
        room stays held (``api-error``) and is asked again with backoff."""
        if not room.closed:
            # An open room has no membership rule, but a public channel bound as closed
            # is looked at below; open rooms are never held.
            return None
        try:
            problem = await self._problem(room)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = delivery_error(exc, room.key)
            reason = "no-access" if error.permanent else "api-error"
            why = said(N_("wisbot cannot check the channel's members: {error}"),
                       error=str(error))  # the platform's error stays as Slack gave it
            log.warning("slack: holding %s (%s): %s", room.key, room.target, why)
            self.problems[room.key] = why
            if self.holds is not None:
                before = await self.holds.hold(room.key, reason, why)
                if reason == "no-access" and (before is None or before.reason != reason):
                    await self._alert(room, why)
            self._retry_later(room)
            return why
        self._retries.pop(room.key, None)
        before_problem = self.problems.get(room.key)
        if problem is not None:
            self.problems[room.key] = problem
            reason = "weak-settings" if problem.startswith("it is a public") else "stranger"
            stored = None
            if self.holds is not None:
                stored = await self.holds.hold(room.key, reason, problem)
            if (stored is None or stored.detail != problem) and problem != before_problem:
                log.error("slack: holding protected posts to %s (%s): %s", room.key,
                          room.target, problem)
                await self._alert(room, problem)
        else:
            self.problems.pop(room.key, None)
            stored = await self.holds.passed(room.key) if self.holds is not None else None
            if stored is not None and stored.reason not in ("unchecked", "api-error"):
                log.warning("slack: %s (%s) passes the room check again; held posts resume",
                            room.key, room.target)
            if stored is not None and self.on_release is not None:
                self.on_release()
        return problem

    def _retry_later(self, room: Room) -> None:
        """Ask again after 2, 4, 8 … (at most 300) seconds while the check cannot run."""
        delay = min(300.0, self._retries.get(room.key, 1.0) * 2)
        self._retries[room.key] = delay
        if room.key in self._rechecks or self.dispatch is None:
            return

        async def again() -> None:
            await asyncio.sleep(delay)
            del self._rechecks[room.key]
            try:
                await self.check_room(room)
            except Exception:
                log.exception("slack: re-checking %s failed", room.key)

        self._rechecks[room.key] = asyncio.create_task(
            again(), name=f"wisbot-slack-recheck-{room.key}")

    async def _problem(self, room: Room) -> str | None:
        client = self._client()
        info = await client.conversations_info(channel=room.target)
        channel = info.get("channel") or {}
        if room.closed and not (channel.get("is_private") or channel.get("is_im")
                                or channel.get("is_mpim")):
            return said(N_("it is a public channel, which anyone in the workspace can join, "
                           "but the directory binds it as a closed room: make it private (or "
                           "bind a private channel)"))
        if not self.directory or not room.closed:
            return None
        members = await self.room_members(RoomRef(platform=PLATFORM, address=room.target,
                                                  key=room.key))
        strangers: list[str] = []
        outsiders: list[str] = []
        for m in members:
            if m.address == self.bot_user_id:
                continue
            contact = self.directory.contact_by_chat("slack", m.address)
            if contact is None:
                strangers.append(m.address)
            elif not may_be_in_room(self.directory, contact, room.role):
                outsiders.append(m.address)
        problems: list[str] = []
        if strangers:
            strangers.sort()
            problems.append(said(N_("members not in the directory ({count}): {who}"),
                                 count=len(strangers), who=", ".join(strangers[:10])
                                 + (" …" if len(strangers) > 10 else "")))
        if outsiders:
            outsiders.sort()
            problems.append(said(N_("members in the directory but outside this room's "
                                    "audience ({role}) ({count}): {who}"),
                                 role=room.role, count=len(outsiders),
                                 who=", ".join(outsiders[:10])
                                 + (" …" if len(outsiders) > 10 else "")))
        if not problems:
            return None
        if len(problems) == 1:
            return problems[0]
        return said(N_("{first}; {second}"), first=problems[0], second=problems[1])

    async def _alert(self, room: Room, problem: str) -> None:
        if self.alert is None:
            return

        def held() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Room integrity: protected posts held"), kind="alert")
            b.line(_t("Slack channel {key} ({target}, {role}): {problem}.",
                      key=room.key, target=room.target, role=room.role,
                      problem=i18n.shown(problem)))
            b.line(_t("wisbot keeps this room's messages until the channel passes the check "
                      "again; nothing is lost."))
            return b.build()

        try:
            await self.alert(held)
        except Exception:
            log.exception("slack: could not alert the Secretariat about %s", room.key)
