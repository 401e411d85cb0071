"""Matrix, on matrix-nio: commands from ``!``/``/`` messages, replies as ``m.notice``.

Errors: every nio call goes through :meth:`MatrixAdapter._call`, the one place where an
``ErrorResponse`` (or a connection failure) becomes an exception::

    DeliveryError                       (wisbot.adapters.base)
    └── MatrixError                     errcode + message from the homeserver
        ├── retry_after                 M_LIMIT_EXCEEDED / HTTP 429: the server's
        │                               retry_after_ms
        ├── transient                   unreachable, timeout, HTTP 5xx: wait and retry
        ├── no_access                   M_FORBIDDEN: the bot may not post in the room
        └── permanent                   a request that can never succeed (bad content)

Files (the watch chart): a Reply's attachments follow its notice, each uploaded to the
homeserver's media repository and sent as an ``m.image`` (PNG, JPEG, GIF) or ``m.file``
replying to the notice; in an encrypted room the bytes are encrypted before the upload
and the event carries the ``file`` (key, iv, hashes) instead of a ``url``. Each event's
transaction id comes from the delivery key and the attachment's index, and the adapter
remembers per key what it already sent, so a retry re-attempts only what is missing.

The sync token lives in wisbot's database (``adapter_state``), so a restart resumes where
the last processed batch ended; commands are claimed by event id there too, in the token's
transaction (``INSERT … ON CONFLICT DO NOTHING``), so each is handled once even when a
batch is seen twice (a crash before the token was saved, or two processes on one account).
The first-ever sync only records where "now" is.

Commands run beside the sync loop, one task per room (acknowledgements in a lane of their
own), so membership changes and invitations are never behind a long command. Their answers
are outbox rows keyed by the command's event id: retried like every delivery, never twice.
An answer only the caller may read goes to their checked direct chat (exactly them and the
bot), the room reading a pointer that reveals nothing. Pages are ``m.text`` mentioning
their reader (an ``m.notice`` never notifies); long messages are sent in parts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import html
import io
import json
import logging
import re
import struct
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp.client_exceptions import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    MegolmEvent,
    PowerLevelsEvent,
    ReactionEvent,
    RoomGetStateEventResponse,
    RoomGuestAccessEvent,
    RoomHistoryVisibilityEvent,
    RoomJoinRulesEvent,
    RoomMemberEvent,
    RoomMessageText,
    SyncResponse,
)
from nio.api import MessageDirection
from nio.exceptions import LocalProtocolError
from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.adapters.base import (
    AdapterHost,
    DeliveryError,
    Dispatch,
    Invocation,
    MessageRef,
    RoomRef,
    UserRef,
)
from wisbot.directory import Contact, Directory, Room
from wisbot.domain.tlp import room_topic
from wisbot.i18n import FSI, N_, PDI, RTL, said
from wisbot.i18n import _ as _t
from wisbot.ids import Platform
from wisbot.reply import Attachment, Reply, ReplyBuilder, Span, text_reply
from wisbot.services.holds import held_reply
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import ANSWERING, Answering
from wisbot.settings import Settings
from wisbot.store.tables import AdapterState, OutboxRow

if TYPE_CHECKING:
    from wisbot.services.integrity import Render

log = logging.getLogger(__name__)
PLATFORM = Platform("matrix")
PREFIXES = ("!", "/")
ACK_REACTIONS = frozenset({"✅", "✅\ufe0f", "✔️", "✔", "☑️"})
TOKEN_NAME = "sync_token"  # noqa: S105  a state row name, not a secret
INVITE_ALERT_PERIOD = timedelta(hours=24)
"""Refused invitations: at most one alert per inviter in this period."""
CLAIM_DAYS = timedelta(days=7)
"""How long a handled command's claim is kept (exactly once across restarts)."""
CLAIM_HEARTBEAT = 30.0
"""How often a command being handled refreshes its claim, s."""
LOGIN_PATIENCE = 120.0
"""Seconds a password login waits out the homeserver's login rate limit before failing."""
SYNC_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 100}, "state": {"lazy_load_members": False}},
    "presence": {"types": []},
}
PERMANENT_ERRCODES = frozenset({"M_NOT_JSON", "M_BAD_JSON", "M_TOO_LARGE", "M_INVALID_PARAM",
                                "M_NOT_FOUND", "M_UNRECOGNIZED"})


# ----- rendering ------------------------------------------------------------------------

_MENTION = re.compile(r"@(?=[\w.=\-/+]|\Z)")
WORD_JOINER = "\u2060"


RLM = "\u200f"
"""Right-to-left mark: a plain line of an Arabic message starts right to left even when
its first letters are Latin (an incident number)."""


def neutralise(text: str) -> str:
    """User text as it must reach a room: ``@room`` and ``@user:server`` no longer match a
    mention rule in any client (a word joiner after the ``@``), shown unchanged."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def _span_html(span: Span, rtl: bool = False) -> str:
    text = neutralise(span.text) if span.style == "user" else span.text
    esc = html.escape(text, quote=True).replace("\n", "<br>")
    if span.style == "bold":
        return f"<b>{esc}</b>"
    if span.style == "code":
        return f"<bdi><code>{esc}</code></bdi>" if rtl else f"<code>{esc}</code>"
    if span.style == "italic":
        return f"<i>{esc}</i>"
    if span.style == "user" and rtl:
        # A person's text keeps its own direction: a Latin summary or centre code in an
        # Arabic line does not reorder the line around it.
        return f"<bdi>{esc}</bdi>"
    return esc


def _span_plain(span: Span, rtl: bool = False) -> str:
    text = neutralise(span.text) if span.style == "user" else span.text
    return f"{FSI}{text}{PDI}" if rtl and span.style in ("user", "code") else text


def _segments(reply: Reply) -> list[tuple[str, str]]:
    """The reply as (plain, HTML) pairs, one per line of the message."""
    out: list[tuple[str, str]] = []
    rtl = reply.lang in RTL
    if reply.title:
        out.append((reply.title, f"<b>{html.escape(reply.title)}</b>"))
    for label, value in reply.fields:
        value = neutralise(value)
        out.append((f"{label}: {FSI}{value}{PDI}" if rtl else f"{label}: {value}",
                    f"<b>{html.escape(label)}:</b> "
                    + (f"<bdi>{html.escape(value)}</bdi>" if rtl else html.escape(value))))
    for line in reply.lines:
        out.append(("".join(_span_plain(s, rtl) for s in line),
                    "".join(_span_html(s, rtl) for s in line)))
    page = is_page(reply)
    with i18n.use(reply.lang):  # wisbot's own words here: the message's language
        for action in reply.actions:
            if page and action.command.strip().lower().startswith("ack "):
                # A page says once how to acknowledge it: the reaction, the reply, the
                # command.
                cmd = action.command.strip()
                how = _t("Acknowledge: react with ✅ or reply {ack} to this message, or "
                         "type {command}.", ack="\x00A", command="\x00C")
                out.append((how.replace("\x00A", i18n.iso("'ack'"))
                             .replace("\x00C", i18n.iso(f"'{cmd}'")),
                            "<i>" + html.escape(how).replace("\x00A", "<code>ack</code>")
                            .replace("\x00C", f"<code>{html.escape(cmd)}</code>") + "</i>"))
                continue
            out.append((f"[{action.label}: {action.command}]",
                        f"<i>{html.escape(action.label)}</i>: "
                        f"<code>{html.escape(action.command)}</code>"))
        if reply.attachments:
            names = ", ".join(a.name for a in reply.attachments)
            note = _t("Attached below: {names}", names="\x00N")
            out.append((note.replace("\x00N", i18n.iso(names)),
                        "<i>" + html.escape(note).replace("\x00N", html.escape(names))
                        + "</i>"))
    return out


def is_page(reply: Reply) -> bool:
    """A page that asks its reader to acknowledge: it must wake them, and only a reaction
    or reply on it acknowledges."""
    return reply.kind == "page" and reply.ref is not None and any(
        a.command.strip().lower().startswith("ack ") for a in reply.actions)


def _content(plain: list[str], rich: list[str], mention: str | None,
             rtl: bool = False) -> dict[str, Any]:
    if rtl:  # Arabic: the client lays the whole message out right to left
        rich = [f'<div dir="rtl">{"<br>".join(rich)}</div>']
        plain = [f"{RLM}{line}" for line in plain]
    if mention is None:
        return {"msgtype": "m.notice", "body": "\n".join(plain),
                "format": "org.matrix.custom.html", "formatted_body": "<br>".join(rich),
                "m.mentions": {}}
    # An m.notice is silenced by the default push rule .m.rule.suppress_notices: a page
    # is m.text and mentions its reader (m.mentions for current clients, the user id in
    # the body for the legacy contains-user-name rule).
    pill = (f'<a href="https://matrix.to/#/{html.escape(mention, quote=True)}">'
            f"{html.escape(mention)}</a>")
    return {"msgtype": "m.text", "body": "\n".join([f"{mention}:", *plain]),
            "format": "org.matrix.custom.html",
            "formatted_body": "<br>".join([f"{pill}:", *rich]),
            "m.mentions": {"user_ids": [mention]}}


def render(reply: Reply, *, mention: str | None = None) -> dict[str, Any]:
    """An ``m.notice`` with an HTML ``formatted_body`` and a plain ``body``; every span
    escaped; ``m.mentions`` empty, so no client or push rule pings anyone. A page to
    ``mention`` (a user id) is an ``m.text`` that notifies that user."""
    segs = _segments(reply)
    return _content([p for p, _ in segs], [r for _, r in segs], mention, reply.lang in RTL)


PART_BYTES = 24_000
"""Most bytes of body plus formatted body in one event: Matrix refuses events over 64 KiB,
and an encrypted event is its JSON in base64 (a third larger) with the keys around it."""


def _size(plain: str, rich: str) -> int:
    return len(plain.encode()) + len(rich.encode())


def _escaped(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _cut(text: str, limit: int) -> list[str]:
    """A line too long for one event, in pieces that each fill one (plain and escaped
    together at most ``limit`` bytes), at a space if one is near the end of a piece."""
    out: list[str] = []
    while _size(text, _escaped(text)) > limit:
        piece = text.encode()[:limit // 2].decode(errors="ignore")
        while _size(piece, _escaped(piece)) > limit:
            piece = piece[:len(piece) * 3 // 4]
        cut = piece.rfind(" ")
        if cut > len(piece) * 3 // 4:
            piece = piece[:cut + 1]
        out.append(piece)
        text = text[len(piece):]
    out.append(text)
    return out


def render_parts(reply: Reply, *, mention: str | None = None,
                 limit: int = PART_BYTES) -> list[dict[str, Any]]:
    """:func:`render`, split into events under Matrix's size limit when too long: whole
    lines per part, "(part i/n)" on each; a line too long alone is cut (as plain text)."""
    segs = _segments(reply)
    if sum(_size(p, r) for p, r in segs) <= limit:
        return [_content([p for p, _ in segs], [r for _, r in segs], mention,
                         reply.lang in RTL)]
    small: list[tuple[str, str]] = []
    for p, r in segs:
        if _size(p, r) <= limit:
            small.append((p, r))
        else:  # its formatting is lost, its text is not
            small += [(c, _escaped(c)) for c in _cut(p, limit - 64)]
    parts: list[list[tuple[str, str]]] = [[]]
    used = 0
    for p, r in small:
        if parts[-1] and used + _size(p, r) > limit:
            parts.append([])
            used = 0
        parts[-1].append((p, r))
        used += _size(p, r)
    n = len(parts)
    return [_content([f"(part {i}/{n})", *(p for p, _ in part)],
                     [f"<i>(part {i}/{n})</i>", *(r for _, r in part)],
                     mention if i == 1 else None, reply.lang in RTL)
            for i, part in enumerate(parts, 1)]


IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif"})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(raw: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (the first, at a fixed offset)."""
    if len(raw) < 24 or raw[:8] != PNG_MAGIC or raw[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", raw[16:24])
    return int(w), int(h)


def render_file(attachment: Attachment, notice_id: str, *, url: str | None = None,
                file: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``m.image``/``m.file`` event for an uploaded attachment, replying to the notice:
    ``url`` (an ``mxc://`` URI) in a plain room, ``file`` (an EncryptedFile) in an
    encrypted one."""
    info: dict[str, Any] = {"mimetype": attachment.mime, "size": attachment.size}
    if attachment.mime == "image/png":
        dims = png_size(attachment.content())
        if dims is not None:
            info["w"], info["h"] = dims
    content: dict[str, Any] = {
        "msgtype": "m.image" if attachment.mime in IMAGE_MIMES else "m.file",
        "body": attachment.name, "filename": attachment.name, "info": info,
        "m.mentions": {}, "m.relates_to": {"m.in_reply_to": {"event_id": notice_id}}}
    if file is not None:
        content["file"] = file
    else:
        content["url"] = url
    return content


def txn_id(key: str) -> str:
    """A transaction id from an outbox key: stable across resends, URL-safe."""
    return "wisbot-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@user> quoted`` lines a client puts before a reply's own text."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i and i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:]) if i else body


# ----- errors ---------------------------------------------------------------------------

class MatrixError(DeliveryError):
    def __init__(self, what: str, errcode: str | None, message: str, *,
                 retry_after: float | None = None, permanent: bool = False,
                 transient: bool = False, no_access: bool = False) -> None:
        super().__init__(f"{what}: {errcode or 'error'} {message}".strip(),
                         retry_after=retry_after, permanent=permanent,
                         transient=transient, no_access=no_access)
        self.errcode = errcode


@dataclass
class _Pending:
    """A command seen in a sync, waiting to be dispatched."""

    room_id: str
    event_id: str
    sender: str
    text: str
    ts: datetime
    relates: dict[str, Any]


class MatrixAdapter:
    """A ``ChatAdapter`` for Matrix. Needs :meth:`bind` (the app does it) before start."""

    platform: Platform = PLATFORM

    def __init__(self, homeserver: str, user_id: str, *, password: str | None = None,
                 access_token: str | None = None, device_id: str = "WISBOT",
                 e2e: bool = False, store_path: Path | None = None,
                 late_after: float = 300.0, integrity_interval: float = 300.0,
                 sync_timeout: float = 30.0, timeline_limit: int = 100,
                 backfill_limit: int = 5000, progress_after: float = 5.0,
                 claim_stale: float = 120.0) -> None:
        if not password and not access_token:
            raise ValueError("the matrix adapter needs WISBOT_MATRIX_PASSWORD or "
                             "WISBOT_MATRIX_ACCESS_TOKEN")
        self.homeserver = homeserver
        self.user_id = user_id
        self.password = password
        self.access_token = access_token
        self.device_id = device_id
        self.e2e = e2e
        self.store_path = store_path
        self.late_after = late_after
        self.integrity_interval = integrity_interval
        self.sync_timeout_ms = int(sync_timeout * 1000)
        self.backfill_limit = backfill_limit
        self.progress_after = progress_after
        """A command running longer than this (s) is answered "working on it" first."""
        self.claim_stale = claim_stale
        """A command claimed this long (s) without a sign of life was interrupted."""
        self._queues: dict[str, collections.deque[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self.backfilled = 0
        """Events fetched with ``/messages`` after limited syncs (tests, metrics)."""
        self.filter = {**SYNC_FILTER,
                       "room": {**SYNC_FILTER["room"], "timeline": {"limit": timeline_limit}}}
        self.host: AdapterHost | None = None
        self.client: AsyncClient | None = None
        self._dispatch: Dispatch | None = None
        self._token: str | None = None
        self._sync_filter: str | dict[str, Any] = self.filter
        self._tasks: list[asyncio.Task[None]] = []
        self._recheck = False
        self._dm_rooms: dict[str, str] = {}
        self._room_version: str | None = None
        self._fresh_dms: set[str] = set()
        """Direct rooms wisbot created that no sync has shown with both people yet (two
        people by construction)."""
        self._pending_rooms: set[str] = set()
        """Provisioned rooms the loaded directory does not name yet (never left)."""
        self._dm_lock = asyncio.Lock()
        self.synced = asyncio.Event()
        """Set after each processed sync batch (tests wait on it)."""
        self.sync_count = 0
        self.connected = False
        """Whether the last sync reached the homeserver (the ``wisbot_adapter_connected``
        metric)."""
        self.outbound_only = False
        """A follower replica: logged in on the same device, sending only (no sync, no
        crypto store); rooms found encrypted are refused, they wait for the leader."""
        self._encrypted: dict[str, bool] = {}
        self._session: tuple[str, str] | None = None
        """(access token, device) of this process's password login: the leader's and the
        sending-only client reuse it, as logins have a tight rate limit of their own."""
        self._sent: OrderedDict[str, str] = OrderedDict()
        """Delivery key (or ``key#n`` for its n-th attachment) → the event the homeserver
        took, for replies with attachments: a retry sends only what is missing."""

    @classmethod
    def from_settings(cls, s: Settings) -> MatrixAdapter:
        if not s.matrix_homeserver or not s.matrix_user_id:
            raise ValueError("the matrix adapter needs WISBOT_MATRIX_HOMESERVER and "
                             "WISBOT_MATRIX_USER_ID")
        return cls(s.matrix_homeserver, s.matrix_user_id,
                   password=s.matrix_password.get_secret_value() if s.matrix_password else None,
                   access_token=(s.matrix_access_token.get_secret_value()
                                 if s.matrix_access_token else None),
                   device_id=s.matrix_device_id, e2e=s.matrix_e2e,
                   store_path=s.matrix_store_path or default_store_path(s.database_url),
                   late_after=s.matrix_late_after,
                   integrity_interval=s.matrix_integrity_interval,
                   sync_timeout=s.matrix_sync_timeout)

    def bind(self, host: AdapterHost) -> None:
        self.host = host

    @property
    def _host(self) -> AdapterHost:
        if self.host is None:
            raise RuntimeError("the matrix adapter is not bound to an app")
        return self.host

    @property
    def directory(self) -> Directory:
        return self._host.directory

    def _client(self) -> AsyncClient:
        if self.client is None:
            raise DeliveryError("the matrix adapter is not connected", transient=True)
        return self.client

    # ----- the choke point --------------------------------------------------------------
    async def _call(self, what: str, coro: Any) -> Any:
        """Await a nio call; an ``ErrorResponse`` or a transport failure raises."""
        try:
            resp = await coro
        except (ClientError, TimeoutError, OSError) as exc:
            raise MatrixError(what, None, f"homeserver unreachable: {exc!r}",
                              transient=True) from exc
        except LocalProtocolError as exc:
            raise MatrixError(what, None, str(exc)) from exc
        # ``upload`` answers (response, decryption info): the response is checked
        first = resp[0] if isinstance(resp, tuple) and resp else resp
        if isinstance(first, ErrorResponse):
            code = first.status_code
            if code == "M_UNKNOWN_TOKEN":
                self._session = None  # logged out elsewhere: the next start logs in again
            transport = getattr(first, "transport_response", None)
            status = getattr(transport, "status", None)
            limited = code == "M_LIMIT_EXCEEDED" or status == 429
            retry = (first.retry_after_ms or 1000) / 1000 if limited else None
            raise MatrixError(what, code, first.message or "", retry_after=retry,
                              permanent=code in PERMANENT_ERRCODES,
                              no_access=code == "M_FORBIDDEN",
                              transient=isinstance(status, int) and status >= 500)
        return resp

    # ----- life cycle -------------------------------------------------------------------
    async def start_outbound(self) -> None:
        """Send only (a replica that does not lead): the same account and device, so a
        message resent after a failover keeps its transaction id and is taken once."""
        self.outbound_only = True
        config = AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False,
                                   max_limit_exceeded=0, max_timeouts=0, request_timeout=60)
        client = AsyncClient(self.homeserver, self.user_id, device_id=self.device_id,
                             config=config)
        try:
            await self._log_in(client)
        except BaseException:
            await client.close()
            raise
        self._dm_rooms = await self._host.store.tx(_get_dms)
        self.client = client
        log.info("matrix: %s (device %s) sending only", self.user_id, self.device_id)

    async def stop_inbound(self) -> None:
        """Back to sending only: the sync loop stops and the crypto store is closed (a
        failed login here is tried again at the next send)."""
        await self.stop()
        self.outbound_only = True
        await self.start_outbound()

    def follower_sends(self, room: Room | None) -> bool:
        """E2E rooms and direct chats (created by the leader, encrypted with e2e) are the
        leader's alone: only it holds the crypto store."""
        return room is not None and not room.encrypted

    async def _refuse_encrypted(self, room_id: str) -> None:
        if self.client is None:
            await self.start_outbound()
        known = self._encrypted.get(room_id)
        if known is None:
            client = self._client()
            resp = await client.room_get_state_event(room_id, "m.room.encryption")
            known = isinstance(resp, RoomGetStateEventResponse) and bool(resp.content)
            self._encrypted[room_id] = known
        if known:
            raise DeliveryError(f"{room_id} is encrypted: only the leading replica sends "
                                "there", retry_after=15.0)

    async def start(self, dispatch: Dispatch) -> None:
        outbound = self.client if self.outbound_only else None
        self.outbound_only = False
        try:
            await self._start(dispatch)
        finally:
            if outbound is not None:
                await outbound.close()

    async def _start(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        host = self._host
        config = AsyncClientConfig(encryption_enabled=self.e2e, store_sync_tokens=False,
                                   max_limit_exceeded=0, max_timeouts=0, request_timeout=60)
        store = None
        if self.e2e:
            path = self.store_path or Path("matrix-store")
            path.mkdir(parents=True, exist_ok=True)
            store = str(path)
        client = AsyncClient(self.homeserver, self.user_id, device_id=self.device_id,
                             store_path=store or "", config=config)
        self.client = client
        await self._log_in(client)
        self._sync_filter = await self._upload_filter()
        self._token = await host.store.tx(lambda s: _get_state(s, TOKEN_NAME))
        self._dm_rooms = await host.store.tx(_get_dms)
        await host.store.tx(lambda s: _prune_claims(s, host.clock()))
        first = self._token is None
        resp = await self._call("sync", client.sync(timeout=0, sync_filter=self._sync_filter,
                                                    since=self._token, full_state=True))
        self.connected = True
        # Fail closed: every room is checked before any command of this batch is handled
        # and before the outbox starts (the app starts it after this returns).
        await self.check_rooms()
        await self._process(resp, initial=first)
        await self._keys()
        await self.recover(at_start=True)
        self._tasks = [asyncio.create_task(self._sync_loop(), name="wisbot-matrix-sync"),
                       asyncio.create_task(self._integrity_loop(),
                                           name="wisbot-matrix-integrity"),
                       asyncio.create_task(self._claims_loop(), name="wisbot-matrix-claims")]
        log.info("matrix: %s (device %s) running; %d rooms", self.user_id, self.device_id,
                 len(client.rooms))

    async def _log_in(self, client: AsyncClient) -> None:
        """A configured token, else this process's earlier login, else a password login
        that waits out ``M_LIMIT_EXCEEDED`` (up to ``LOGIN_PATIENCE`` seconds)."""
        if self.access_token:
            client.restore_login(self.user_id, self.device_id, self.access_token)
            return
        if self._session is not None:
            token, device = self._session
            client.restore_login(self.user_id, device, token)
            return
        assert self.password is not None
        waited = 0.0
        while True:
            try:
                resp = await self._call("login", client.login(self.password,
                                                              device_name="wisbot"))
                break
            except MatrixError as exc:
                if exc.errcode != "M_LIMIT_EXCEEDED" or exc.retry_after is None \
                        or waited + exc.retry_after > LOGIN_PATIENCE:
                    raise
                log.warning("matrix: login rate limited; trying again in %.0fs",
                            exc.retry_after)
                await asyncio.sleep(exc.retry_after)
                waited += exc.retry_after
        self.device_id = resp.device_id
        self._session = (resp.access_token, resp.device_id)

    async def _upload_filter(self) -> str | dict[str, Any]:
        """The sync filter as a stored filter id: the homeserver then neither parses nor
        validates it on every sync. Falls back to sending it inline."""
        client = self._client()
        room = self.filter["room"]
        try:
            resp = await self._call("upload filter", client.upload_filter(
                presence=self.filter["presence"], room=room))
        except MatrixError as exc:
            log.warning("matrix: cannot store the sync filter, sending it inline: %s", exc)
            return self.filter
        return str(resp.filter_id)

    async def stop(self) -> None:
        # Commands being handled stay claimed: another run answers them "interrupted".
        for task in [*self._tasks, *self._workers.values()]:
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()
        self._queued.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.connected = False
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _sync_loop(self) -> None:
        backoff = 0.5
        client = self._client()
        while True:
            try:
                resp = await self._call("sync", client.sync(
                    timeout=self.sync_timeout_ms, sync_filter=self._sync_filter,
                    since=self._token))
                self.connected = True
                if self._recheck:  # back after an outage: held until checked again
                    holds = self._host.holds
                    await holds.begin_checks(holds.closed_rooms(PLATFORM))
                    await self.check_rooms()
                    self._recheck = False
                await self._process(resp, initial=False)
                await self._keys()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must survive anything
                if isinstance(exc, MatrixError) and exc.errcode is None:
                    self.connected = False  # the homeserver is unreachable
                    await self._doubt()
                log.warning("matrix sync failed (retry in %.1fs): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)

    async def _keys(self) -> None:
        client = self._client()
        if client.olm is None:
            return
        if client.should_upload_keys:
            await self._call("keys_upload", client.keys_upload())
        if client.should_query_keys:
            await self._call("keys_query", client.keys_query())
        if client.should_claim_keys:
            await self._call("keys_claim",
                             client.keys_claim(client.get_users_for_key_claiming()))
        await client.send_to_device_messages()

    async def _integrity_loop(self) -> None:
        while True:
            await asyncio.sleep(self.integrity_interval)
            try:
                await self.check_rooms()
                now = self._host.clock()
                await self._host.store.tx(functools.partial(_prune_claims, now=now))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("matrix: periodic room integrity check failed")

    # ----- incoming ---------------------------------------------------------------------
    async def _process(self, resp: SyncResponse, *, initial: bool) -> None:
        client = self._client()
        host = self._host
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, [e for e in info.invite_state
                                            if isinstance(e, InviteMemberEvent)])
        pending: list[_Pending] = []
        changed: set[str] = set()
        since = self._token
        for room_id, join in resp.rooms.join.items():
            events = list(join.timeline.events)
            if join.timeline.limited and not initial and since and join.timeline.prev_batch:
                # More happened in this room since the last processed batch than one sync
                # carries: fetch the rest, so no command sent meanwhile is skipped.
                events = await self._backfill(room_id, join.timeline.prev_batch, since) + events
            # nio parses state events into classes without a ``type`` attribute
            if any(isinstance(e, RoomMemberEvent | PowerLevelsEvent | RoomJoinRulesEvent
                              | RoomHistoryVisibilityEvent | RoomGuestAccessEvent)
                   for e in [*join.state, *events]):
                changed.add(room_id)
            for event in events:
                if isinstance(event, MegolmEvent):
                    log.warning("matrix: cannot decrypt %s from %s in %s", event.event_id,
                                event.sender, room_id)
                    continue
                if getattr(event, "sender", None) == self.user_id:
                    continue
                item = self._command_of(room_id, event)
                if item is not None:
                    pending.append(item)
        if initial:
            # The first-ever sync: history stays history.
            pending = []
            changed = set(client.rooms)
        for room_id in changed:
            await self._check_room(room_id)
        token = resp.next_batch
        now = host.clock()

        def save(s: Session) -> list[_Pending]:
            # Claimed with the token, in one transaction: a command is either behind the
            # saved token and queued in the database, or seen again by the next sync.
            fresh = [item for item in pending if _claim(s, item, now)]
            _set_state(s, TOKEN_NAME, token, now)
            return fresh

        for item in await host.store.tx(save):
            self._enqueue(item)
        self._token = token
        self.sync_count += 1
        self.synced.set()

    async def _backfill(self, room_id: str, start: str, since: str) -> list[Any]:
        """The events of ``room_id`` between ``since`` (the last processed sync position)
        and ``start`` (a limited timeline's ``prev_batch``), oldest first; at most
        ``backfill_limit`` of them (the newest). A failure raises, so the whole batch is
        retried from the same token and nothing is skipped."""
        client = self._client()
        # Claims (exactly once) are kept a week: never reach back to what they no longer
        # cover, even from a homeserver that ignored ``end``.
        oldest = (self._host.clock() - CLAIM_DAYS + timedelta(days=1)).timestamp() * 1000
        chunks: list[list[Any]] = []
        got = 0
        token = start
        while got < self.backfill_limit:
            resp = await self._call("messages", client.room_messages(
                room_id, start=token, end=since, direction=MessageDirection.back,
                limit=min(100, self.backfill_limit - got)))
            chunk = [e for e in resp.chunk
                     if getattr(e, "server_timestamp", oldest) >= oldest]
            if chunk:
                chunks.append(chunk)
                got += len(chunk)
            if len(chunk) < len(resp.chunk) or not resp.chunk or not resp.end \
                    or resp.end == token:
                break
            token = resp.end
        else:
            log.warning("matrix: %s had more than %d events while wisbot was away; "
                        "older ones are not processed", room_id, self.backfill_limit)
        self.backfilled += got
        log.info("matrix: fetched %d earlier events of %s (limited sync)", got, room_id)
        return [e for chunk in reversed(chunks) for e in reversed(chunk)]

    def _command_of(self, room_id: str, event: Any) -> _Pending | None:
        ts = datetime.fromtimestamp(event.server_timestamp / 1000, UTC)
        if isinstance(event, ReactionEvent):
            if event.key.strip() in ACK_REACTIONS:
                return _Pending(room_id, event.event_id, event.sender, "", ts,
                                {"ack_of": event.reacts_to})
            return None
        if not isinstance(event, RoomMessageText):
            return None
        content = event.source.get("content", {})
        relates = content.get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":
            return None  # edits are not new commands
        body = event.body.strip()
        reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
        if reply_to:
            body = strip_reply_fallback(event.body).strip()
            if body.lower() in ("ack", "!ack", "/ack"):
                return _Pending(room_id, event.event_id, event.sender, "ack", ts,
                                {**relates, "ack_of": reply_to})
        if not body.startswith(PREFIXES):
            return None
        return _Pending(room_id, event.event_id, event.sender, body, ts, relates)

    async def _on_invite(self, room_id: str, events: list[InviteMemberEvent]) -> None:
        client = self._client()
        mine = [e for e in events if e.state_key == self.user_id]
        inviter = mine[-1].sender if mine else None
        is_direct = bool(mine and mine[-1].content.get("is_direct"))
        room = self.directory.room_by_address(PLATFORM, room_id)
        contact = self.directory.contact_by_chat(PLATFORM, inviter) if inviter else None
        if contact is not None and (room is not None or is_direct):
            await self._call("join", client.join(room_id))
            if room is None:
                # A direct chat the person made gets no private content (it is not closed);
                # what is said in it from now on stays unreadable to anyone let in later,
                # where wisbot has the power to say so (best effort).
                with contextlib.suppress(DeliveryError):
                    await self._call("close direct history", client.room_put_state(
                        room_id, "m.room.history_visibility",
                        {"history_visibility": "joined"}))
                self._dm_rooms[inviter or ""] = room_id
                user = inviter or ""
                await self._host.store.tx(lambda s: _set_state(
                    s, _dm_name(user), f"{room_id} {user}", self._host.clock()))
            log.info("matrix: joined %s (%s) on %s's invitation", room_id,
                     room.key if room else "direct", inviter)
            return
        why = (said(N_("the inviter is not in the directory")) if contact is None
               else said(N_("the room is not bound in the directory")))
        log.warning("matrix: refusing the invitation to %s from %s: %s", room_id, inviter, why)
        with contextlib.suppress(DeliveryError):
            await self._call("leave", client.room_leave(room_id))
        # One alert per inviter per period, remembered in the database: a stranger who
        # invites the bot a thousand times does not flood the Secretariat room.
        host = self._host
        name = "inv:" + hashlib.sha256((inviter or "?").encode()).hexdigest()[:40]
        now = host.clock()

        def first_in_period(s: Session) -> bool:
            row = s.get(AdapterState, (PLATFORM, name))
            if row is not None and row.updated_at is not None and \
                    _aware(row.updated_at) > now - INVITE_ALERT_PERIOD:
                row.value = str(int(row.value or "0") + 1)  # refused since, untold
                s.add(row)
                return False
            _set_state(s, name, "0", now)
            return True

        if not await host.store.tx(first_in_period):
            return
        hours = int(INVITE_ALERT_PERIOD.total_seconds() // 3600)

        def refused() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Matrix: invitation refused"), kind="alert")
            b.line(_t("wisbot was invited to {room_id} by ",
                      room_id=room_id), Span(text=inviter or "?", style="user"),
                   _t(" and refused: {why}.", why=why.text()))
            b.line(_t("Further invitations from this account are refused without an alert "
                      "for {hours} h.", hours=hours))
            return b.build()

        await self._alert(refused)

    # ----- commands: a queue per room, handled beside the sync ----------------------------
    def _enqueue(self, item: _Pending) -> None:
        """Commands of a room run one after another in a task of their own, so the sync
        loop (membership, invitations, other rooms) never waits for one. Acknowledgements
        have a lane of their own: a long command does not delay stopping a page."""
        if item.event_id in self._queued:
            return
        lane = item.room_id + ("#ack" if _is_ack(item) else "")
        self._queued.add(item.event_id)
        self._queues.setdefault(lane, collections.deque()).append(item)
        worker = self._workers.get(lane)
        if worker is None or worker.done():
            self._workers[lane] = asyncio.create_task(self._room_worker(lane),
                                                      name=f"wisbot-matrix-{lane}")

    async def _room_worker(self, lane: str) -> None:
        queue = self._queues[lane]
        while queue:
            item = queue[0]
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # the claim stays: the sweep answers it as interrupted
                log.exception("matrix: handling command %s in %s failed", item.event_id,
                              item.room_id)
            finally:
                queue.popleft()
                self._queued.discard(item.event_id)
        del self._queues[lane]
        self._workers.pop(lane, None)

    async def _handle(self, item: _Pending) -> None:
        host = self._host
        if not await host.store.tx(lambda s: _take(s, item, "queued", "claimed",
                                                   host.clock())):
            return  # another process (or an earlier run) has it
        self._running.add(item.event_id)
        try:
            rows = await self._answer(item)
        finally:
            self._running.discard(item.event_id)
        now = host.clock()

        def finish(s: Session) -> None:
            for row in rows:
                _enqueue_reply(s, row, now)
            _set_state(s, _event_name(item.event_id), "done", now)

        await host.store.tx(finish)
        if rows:
            host.wake_outbox()

    async def _answer(self, item: _Pending) -> list[_Row]:
        """Run the command; the outbox rows that answer it."""
        host = self._host
        dispatch = self._dispatch
        assert dispatch is not None
        room = self.directory.room_by_address(PLATFORM, item.room_id)
        contact = self.directory.contact_by_chat(PLATFORM, item.sender)
        trusted = True
        if room is None:
            pair, trusted = (await self._direct_state(item.room_id, item.sender)
                             if contact is not None else (False, False))
            if not pair:
                if item.room_id in self._dm_rooms.values():
                    # once a direct chat, now with someone else in it: nothing shown there
                    with i18n.use(await self._language(None, contact)):
                        notice = _not_direct_reply()
                    await self._send_now(item, notice)
                log.info("matrix: ignoring %s in %s: not bound, not a direct chat",
                         item.event_id, item.room_id)
                return []
            if trusted:
                await self._remember_direct(item.sender, item.room_id)
        text = item.text
        extra: dict[str, str] = {}
        if "ack_of" in item.relates:
            target = item.relates["ack_of"]
            ref = await host.store.tx(lambda s: _page_of(s, target))
            if ref is None:
                log.info("matrix: %s acknowledges %s, which is no page: nothing done",
                         item.sender, target)
                if item.text:  # a typed "ack" reply on a notice gets a hint
                    with i18n.use(await self._language(room, contact)):
                        hint = _not_a_page_reply()
                    return self._rows(item, room, contact, hint)
                return []
            text = f"ack {ref}"
            extra = {"ack_message": target}
        if room is not None and room.key in host.holds:
            # A held room gets nothing through the outbox; the refusal reveals nothing.
            await self._send_now(item, held_reply(room))
            return []
        inv = Invocation(platform=PLATFORM, sender=UserRef(PLATFORM, item.sender), text=text,
                         room=(RoomRef(PLATFORM, item.room_id, room.key) if room else None),
                         received_at=item.ts,
                         reply_to=MessageRef(PLATFORM, item.room_id, item.event_id),
                         extra=extra)
        answering = Answering(room.key, item.event_id, _thread_of(item)) if room else None
        token = ANSWERING.set(answering)
        try:
            reply = await self._run(dispatch, inv, item, room, contact)
        finally:
            ANSWERING.reset(token)
        late = host.clock() - item.ts
        if late > timedelta(seconds=self.late_after):
            reply = _late(reply, item.ts, late)
        if room is None and not trusted and contact is not None:
            # A direct chat the person made (they may invite anyone, open its history):
            # the answer goes to the closed direct chat wisbot makes; here only a pointer.
            with i18n.use(reply.lang):  # the person's, as the answer
                await self._send_now(item, _made_by_you_reply())
                intro = (Span(text=_t("In answer to your command in the direct chat you "
                                      "opened:"), style="italic"),)
            private = reply.model_copy(update={"lines": (intro, *reply.lines)})
            return [_Row(f"@{contact.id}", _reply_key(item.event_id, "d"), private)]
        return await self._placed(item, room, contact, reply,
                                  answered=answering is not None and answering.used)

    async def _run(self, dispatch: Dispatch, inv: Invocation, item: _Pending,
                   room: Room | None, contact: Contact | None) -> Reply:
        """Dispatch, saying "working on it" once it takes long, and keeping the claim
        fresh so no other process takes it for interrupted."""
        host = self._host
        task = asyncio.ensure_future(dispatch(inv))
        started = asyncio.get_running_loop().time()
        told = False
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=(
                    CLAIM_HEARTBEAT if told else min(self.progress_after, CLAIM_HEARTBEAT)))
                if done:
                    return task.result()
                await host.store.tx(functools.partial(_touch, event_id=item.event_id,
                                                      now=host.clock()))
                if not told and asyncio.get_running_loop().time() - started \
                        >= self.progress_after:
                    told = True
                    with i18n.use(await self._language(room, contact)):
                        working = _working_reply()
                    for row in self._rows(item, room, contact, working, part="w"):
                        await host.store.tx(functools.partial(_enqueue_reply, row=row,
                                                              now=host.clock()))
                    host.wake_outbox()
        finally:
            if not task.done():
                task.cancel()

    async def _placed(self, item: _Pending, room: Room | None, contact: Contact | None,
                      reply: Reply, *, answered: bool = False) -> list[_Row]:
        """Where the answer goes: the room, if everyone there may read it; otherwise the
        person's checked direct chat and a pointer in the room that reveals nothing.
        ``answered``: the cascade post to the room is already threaded under the command
        as its answer there: no pointer besides it (the room reads the incident once)."""
        if room is None or not reply.private:
            return self._rows(item, room, contact, reply)
        if contact is not None:
            try:
                await self._direct_room(item.sender)
            except DeliveryError as exc:
                log.warning("matrix: no direct chat with %s for a private answer: %s",
                            item.sender, exc)
            else:
                with i18n.use(reply.lang):
                    intro = (Span(text=_t("In answer to your command in {room}:",
                                          room=room.name or room.key), style="italic"),)
                private = reply.model_copy(update={"lines": (intro, *reply.lines)})
                with i18n.use(room_language(room)):  # the pointer is read in the room
                    pointer = [] if answered else self._rows(item, room, contact,
                                                              _pointer_reply())
                return [_Row(f"@{contact.id}", _reply_key(item.event_id, "d"), private),
                        *pointer]
        with i18n.use(room_language(room)):
            return self._rows(item, room, contact, _undeliverable_reply())

    def _rows(self, item: _Pending, room: Room | None, contact: Contact | None,
              reply: Reply, part: str = "r") -> list[_Row]:
        threaded = reply.model_copy(update={"reply_to": item.event_id,
                                            "thread": _thread_of(item)})
        if room is not None:
            return [_Row(room.key, _reply_key(item.event_id, part), threaded)]
        if contact is not None:
            return [_Row(f"@{contact.id}", _reply_key(item.event_id, part), threaded)]
        return []

    async def _language(self, room: Room | None, contact: Contact | None) -> str:
        """Who reads a notice about a command: the room, else the person (their stored
        choice), else the deployment default (never fails)."""
        if room is not None or contact is None:
            return room_language(room)
        directory = self.directory
        try:
            return str(await self._host.store.tx(
                lambda s: person_language(s, directory, contact.id)))
        except Exception:
            log.warning("matrix: could not look up %s's language", contact.id, exc_info=True)
            return i18n.default()

    async def _send_now(self, item: _Pending, reply: Reply) -> None:
        """A notice straight to the room, not through the outbox (held or unbound rooms,
        which the outbox serves no more): best effort, it reveals nothing."""
        threaded = reply.model_copy(update={"reply_to": item.event_id,
                                            "thread": _thread_of(item)})
        try:
            await self._deliver(item.room_id, threaded, _reply_key(item.event_id, "n"))
        except DeliveryError as exc:
            log.warning("matrix: notice to %s not sent: %s", item.room_id, exc)

    async def _remember_direct(self, user_id: str, room_id: str) -> None:
        """The direct chat a person last typed in is where their direct messages go."""
        if self._dm_rooms.get(user_id) == room_id:
            return
        self._dm_rooms[user_id] = room_id
        host = self._host
        await host.store.tx(lambda s: _set_state(s, _dm_name(user_id), f"{room_id} {user_id}",
                                                 host.clock()))

    # ----- claims left behind (a crash, a stopped process) ------------------------------
    async def recover(self, *, at_start: bool = False) -> int:
        """Queue again the commands claimed but never handled, and answer "interrupted"
        to those whose handling stopped (no heartbeat for ``claim_stale`` seconds): once,
        whichever process finds them. Returns how many were found."""
        host = self._host
        now = host.clock()
        stale = now - timedelta(seconds=self.claim_stale)
        rows = await host.store.tx(lambda s: _open_claims(s))
        found = 0
        for state, item, updated in sorted(rows, key=lambda r: r[1].ts):
            if item.event_id in self._queued or item.event_id in self._running:
                continue
            if state == "queued" and (at_start or updated < stale):
                found += 1
                self._enqueue(item)
            elif state == "claimed" and updated < stale:
                found += 1
                room = self.directory.room_by_address(PLATFORM, item.room_id)
                contact = self.directory.contact_by_chat(PLATFORM, item.sender)
                with i18n.use(await self._language(room, contact)):
                    interrupted = _interrupted_reply()
                out = self._rows(item, room, contact, interrupted)

                def settle(s: Session, item: _Pending = item, out: list[_Row] = out) -> bool:
                    if not _take(s, item, "claimed", "done", now):
                        return False
                    for row in out:
                        _enqueue_reply(s, row, now)
                    return True

                if await host.store.tx(settle):
                    log.warning("matrix: command %s in %s was interrupted; told its sender",
                                item.event_id, item.room_id)
                    host.wake_outbox()
        return found

    async def _claims_loop(self) -> None:
        while True:
            await asyncio.sleep(self.claim_stale / 2)
            try:
                await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("matrix: looking for interrupted commands failed")

    # ----- outgoing ---------------------------------------------------------------------
    async def _send_content(self, room_id: str, content: dict[str, Any], tx: str) -> str:
        client = self._client()
        resp = await self._call("send", client.room_send(
            room_id, "m.room.message", content, tx_id=tx, ignore_unverified_devices=True))
        return str(resp.event_id)

    async def _deliver(self, room_id: str, reply: Reply, key: str, *,
                       mention: str | None = None) -> str:
        """The message (in parts when longer than an event may be), then each attachment
        replying to it; the first event's id. What the homeserver took is remembered per
        key, so a retry sends only what is missing."""
        parts = render_parts(reply, mention=mention)
        relation = _relation(reply)
        if relation:
            for content in parts:
                content["m.relates_to"] = relation
        if len(parts) == 1 and not reply.attachments:
            return await self._send_content(room_id, parts[0], txn_id(key))
        first: str | None = None
        for n, content in enumerate(parts):
            part_key = key if n == 0 else f"{key}#part{n}"
            event_id = self._sent.get(part_key)
            if event_id is None:
                event_id = await self._send_content(room_id, content, txn_id(part_key))
                _remember(self._sent, part_key, event_id)
            first = first or event_id
        assert first is not None
        for n, attachment in enumerate(reply.attachments):
            file_key = f"{key}#{n}"
            if file_key in self._sent:
                continue
            event_id = await self._send_file(room_id, attachment, first, file_key)
            _remember(self._sent, file_key, event_id)
        return first

    async def _send_file(self, room_id: str, attachment: Attachment, notice_id: str,
                         file_key: str) -> str:
        """Upload ``attachment`` (encrypted in an encrypted room) and send its event."""
        client = self._client()
        nio_room = client.rooms.get(room_id)
        bound = self.directory.room_by_address(PLATFORM, room_id)
        # never plaintext media for a room meant to be encrypted, even before a sync
        # has shown its m.room.encryption state
        encrypt = bool((nio_room is not None and nio_room.encrypted)
                       or (bound is not None and bound.encrypted))
        raw = attachment.content()
        what = f"upload {attachment.name} to {room_id}"
        resp, keys = await self._call(what, client.upload(
            io.BytesIO(raw), content_type=attachment.mime, filename=attachment.name,
            encrypt=encrypt, filesize=len(raw)))
        uri = str(resp.content_uri)
        if encrypt:
            if not keys:
                raise MatrixError(what, None, "no decryption keys for the encrypted upload")
            content = render_file(attachment, notice_id, file={**keys, "url": uri})
        else:
            content = render_file(attachment, notice_id, url=uri)
        event_id = await self._send_content(room_id, content, txn_id(file_key))
        log.info("matrix: uploaded %s (%d bytes%s) to %s as %s", attachment.name,
                 attachment.size, ", encrypted" if encrypt else "", room_id, uri)
        return event_id

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        if self.outbound_only:
            await self._refuse_encrypted(room.address)
        event_id = await self._told_if_lost(room.address, reply, key, None)
        return MessageRef(PLATFORM, room.address, event_id)

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef:
        if self.outbound_only:
            raise DeliveryError("direct chats are served by the leading replica",
                                retry_after=15.0)
        room_id = await self._direct_room(user.address)
        mention = user.address if is_page(reply) else None
        event_id = await self._told_if_lost(room_id, reply, key, mention)
        return MessageRef(PLATFORM, room_id, event_id)

    async def _told_if_lost(self, room_id: str, reply: Reply, key: str,
                            mention: str | None) -> str:
        """Deliver; an answer to a command that can never be delivered is replaced, for
        its reader, by a notice saying so (the row stays a dead letter for the operators)."""
        try:
            return await self._deliver(room_id, reply, key, mention=mention)
        except DeliveryError as exc:
            if exc.permanent and reply.reply_to:
                with i18n.use(reply.lang):  # read instead of the answer, by its reader
                    notice = _undelivered_reply().model_copy(
                        update={"reply_to": reply.reply_to, "thread": reply.thread})
                with contextlib.suppress(DeliveryError):
                    await self._deliver(room_id, notice, key + "#lost")
            raise

    async def _direct_room(self, user_id: str) -> str:
        """The person's checked direct chat: its joined and invited members are exactly
        that person and the bot. A chat that is no longer so is never used again; a new
        one is opened."""
        room_id = self._dm_rooms.get(user_id)
        if room_id is not None and (await self._direct_state(room_id, user_id))[1]:
            return room_id
        # The sync loop may see the new room before room_create returns: the lock keeps
        # its integrity check from leaving the room as "not bound" meanwhile.
        async with self._dm_lock:
            if self._dm_rooms.get(user_id) == room_id:
                if room_id is not None:
                    log.warning("matrix: %s is no closed direct chat with %s alone; "
                                "opening a new one", room_id, user_id)
                self._dm_rooms.pop(user_id, None)
            else:  # another task opened one meanwhile
                return self._dm_rooms[user_id]
            return await self._create_direct(user_id)

    async def _is_direct_pair(self, room_id: str, user_id: str) -> bool:
        """Whether the homeserver says the room's joined and invited members are exactly
        ``user_id`` and the bot (asked each time: fail closed on a refusal)."""
        return (await self._direct_state(room_id, user_id))[0]

    async def _direct_state(self, room_id: str, user_id: str) -> tuple[bool, bool]:
        """(the members are exactly ``user_id`` and the bot, and the room is closed enough
        for private content too: see :func:`_closed_direct`), asked of the homeserver each
        time; a refusal is (False, False)."""
        try:
            resp = await self._call("room state", self._client().room_get_state(room_id))
        except MatrixError as exc:
            if exc.errcode is None:
                raise  # unreachable: the caller retries later
            return False, False
        members = {e.get("state_key") for e in resp.events
                   if e.get("type") == "m.room.member"
                   and (e.get("content") or {}).get("membership") in ("join", "invite")}
        pair = members == {user_id, self.user_id}
        return pair, pair and _closed_direct(resp.events, self.user_id)

    def checked_direct_room(self, user_id: str) -> str | None:
        """``user_id``'s direct chat with wisbot, only while its joined and invited members
        are exactly that person and the bot; None otherwise (then nothing private goes
        there)."""
        room_id = self._dm_rooms.get(user_id)
        if room_id is None or self.client is None:
            return None
        nio_room = self.client.rooms.get(room_id)
        present = (set(nio_room.users) | set(nio_room.invited_users)) if nio_room else set()
        pair = {self.user_id, user_id}
        if present == pair:
            self._fresh_dms.discard(room_id)
            return room_id
        # A room wisbot just made may show up before the invitation does: it is two people
        # by construction until a sync has shown both.
        return room_id if room_id in self._fresh_dms and present <= pair else None

    async def _create_direct(self, user_id: str) -> str:
        """A new direct room: the person invited, with no power to invite anyone else or
        change a setting (not ``trusted_private_chat``, which gives the invitee 100)."""
        from wisbot.services.integrity import (
            BOT_LEVEL,
            closed_power_levels,
            creators_privileged,
        )

        client = self._client()
        if self._room_version is None:
            self._room_version = await default_room_version(client)
        power = closed_power_levels(
            self.user_id, creator_privileged=creators_privileged(self._room_version))
        power.update(kick=BOT_LEVEL, ban=BOT_LEVEL, redact=BOT_LEVEL)
        resp = await self._call("create direct room", client.room_create(
            is_direct=True, invite=[user_id], preset=_preset("private_chat"),
            power_level_override=power,
            # history from the invitation: what wisbot sent before the person joined is
            # theirs (a third person makes the room no direct chat at all)
            initial_state=[*_closed_state(history="invited"),
                           *([_encryption_state()] if self.e2e else [])]))
        room_id = str(resp.room_id)
        self._fresh_dms.add(room_id)
        await self._remember_direct(user_id, room_id)
        return room_id

    async def _forget_direct(self, user_id: str) -> None:
        self._dm_rooms.pop(user_id, None)
        host = self._host
        await host.store.tx(lambda s: _del_state(s, _dm_name(user_id)))

    async def room_members(self, room: RoomRef) -> set[UserRef]:
        return {UserRef(PLATFORM, u) for u in self._present(room.address)}

    async def redact(self, message: MessageRef, reason: str) -> bool:
        """Remove a person's message from a room (the bot holds the redact power in the
        rooms it provisions): its body is gone from everyone's sync."""
        await self._call(f"redacting a message in {message.room}",
                         self._client().room_redact(message.room, message.id, reason=reason))
        return True

    def _present(self, room_id: str) -> set[str]:
        """Joined and invited members other than the bot (nio keeps both in ``users``)."""
        nio_room = self._client().rooms.get(room_id)
        if nio_room is None:
            return set()
        return (set(nio_room.users) | set(nio_room.invited_users)) - {self.user_id}

    # ----- room integrity ---------------------------------------------------------------
    @property
    def checks_rooms(self) -> bool:
        """The app holds this platform's closed rooms until :meth:`check_rooms` passes."""
        return True

    async def _doubt(self) -> None:
        """Lost the homeserver: every closed room is re-checked on reconnect, held until
        then (nothing can be delivered meanwhile anyway)."""
        self._recheck = True

    async def check_rooms(self) -> None:
        """Check every bound Matrix room and every room the bot is in (start, after a
        reconnect, periodically); the Secretariat's rooms first, so the alerts about the
        others have a checked room to go to."""
        client = self._client()
        bound = sorted((r for r in self.directory.rooms if r.platform == PLATFORM),
                       key=lambda r: r.role != "secretariat")
        seen: set[str] = set()
        for room in bound:
            seen.add(room.target)
            await self._check_room(room.target)
        for room_id in list(client.rooms):
            if room_id not in seen:
                await self._check_room(room_id)

    def _moderators(self) -> set[str]:
        return {c.chat_id("matrix") or "" for c in self.directory.contacts
                if c.is_secretariat} - {""}

    async def _check_room(self, room_id: str) -> None:
        from wisbot.services.integrity import strangers, weak_settings

        client = self._client()
        room = self.directory.room_by_address(PLATFORM, room_id)
        nio_room = client.rooms.get(room_id)
        if room is None:
            if nio_room is not None:
                await self._check_unbound(room_id)
            return
        if not room.closed:
            return
        host = self._host
        if nio_room is None:
            why = said(N_("wisbot is not a member of {key} ({room_id}): invite it, or fix the "
                          "room's address in the directory"), key=room.key, room_id=room_id)
            before = await host.holds.hold(room.key, "no-access", why)
            if before is None or before.reason != "no-access":
                log.warning("matrix: room %s held: %s", room.key, why)

                def no_access() -> Reply:  # in each Secretariat room's language
                    b = ReplyBuilder(_t("Room integrity: {key} is on hold", key=room.key),
                                     kind="alert")
                    b.line(_t("{why}; its posts wait, nothing is lost.", why=why.text()))
                    return b.build()

                await self._alert(no_access)
            return
        found = strangers(self.directory, room, PLATFORM, self._present(room_id))
        weak = weak_settings(bot=self.user_id, moderators=self._moderators(),
                             join_rule=nio_room.join_rule,
                             history_visibility=nio_room.history_visibility,
                             guest_access=nio_room.guest_access,
                             power=_power_content(nio_room))
        if found or weak:
            reason = "stranger" if found else "weak-settings"
            detail = "\n".join([*(f"stranger: {u}" for u in found),
                                 *(f"setting: {w}" for w in weak)])
            before = await host.holds.hold(room.key, reason, detail)
            if before is not None and (before.reason, before.detail) == (reason, detail):
                return  # told already (this process or an earlier one)
            log.warning("matrix: room %s held: %s", room.key, detail.replace("\n", "; "))

            def held() -> Reply:  # in each Secretariat room's language
                b = ReplyBuilder(_t("Room integrity: {key} is on hold", key=room.key),
                                 kind="alert")
                if found:
                    b.line(_t("{key} ({room_id}) has members or invitations that are not in "
                              "its directory audience:", key=room.key, room_id=room_id))
                    for who in found:
                        b.line("• ", Span(text=who, style="user"))
                if weak:
                    b.line(_t("Room settings: the closed room {key} ({room_id}) is weaker "
                              "than invite-only with history for members since their join:",
                              key=room.key, room_id=room_id))
                    for w in weak:  # the setting's values stay as Matrix names them
                        b.line("• ", Span(text=i18n.shown(w), style="user"))
                    b.line(_t("Run `wisbot matrix provision --tighten` (or restore the "
                              "settings listed in docs/matrix.md)."))
                b.line(_t("wisbot holds every protected post to this room and answers no "
                          "command there until this is fixed; nothing is lost."))
                return b.build()

            await self._alert(held)
            return
        before = await host.holds.passed(room.key)
        if before is None:
            return
        host.wake_outbox()
        if before.reason in ("unchecked", "api-error"):
            return
        def clean() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Room integrity: {key} is clean again", key=room.key),
                             kind="alert")
            b.line(_t("Only directory members remain in {key} and its settings are closed; "
                      "held posts are delivered now.", key=room.key))
            return b.build()

        log.info("matrix: room %s released", room.key)
        await self._alert(clean)

    async def _check_unbound(self, room_id: str) -> None:
        """A room not in the directory: a direct chat while it has exactly two people;
        otherwise wisbot leaves (a former direct chat: the person and the Secretariat are
        told when someone else was in it)."""
        client = self._client()
        async with self._dm_lock:  # a direct room being created is not a stray one
            owner = next((u for u, r in self._dm_rooms.items() if r == room_id), None)
            if owner is not None and self.checked_direct_room(owner) == room_id:
                return
            others = self._present(room_id) - {owner} if owner else set()
            if owner is not None:
                await self._forget_direct(owner)
        if owner is not None and others:
            log.warning("matrix: %s is no longer %s's direct chat: %s", room_id, owner,
                        sorted(others))
            await self._not_direct(room_id, owner, sorted(others))
        elif owner is None and await self._provisioned(room_id):
            # made by `wisbot matrix provision` after this directory was loaded: leaving
            # would orphan it (only the bot may invite there); it stays unused until the
            # directory names it
            if room_id not in self._pending_rooms:
                self._pending_rooms.add(room_id)
                log.warning("matrix: %s was provisioned but is not in the loaded directory: "
                            "unused until the directory with its id is loaded", room_id)
            return
        else:
            log.warning("matrix: leaving %s: not bound in the directory", room_id)
        with contextlib.suppress(DeliveryError):
            await self._call("leave", client.room_leave(room_id))

    async def _provisioned(self, room_id: str) -> bool:
        """Whether the bot made this room (provisioning: its ``ROOM_TAG`` state, or its
        creation event, which a sync may show before the tag has been sent)."""
        if room_id in self._pending_rooms:
            return True
        try:
            resp = await self._call("read room state",
                                    self._client().room_get_state(room_id))
        except MatrixError:
            return False
        return any(e.get("type") == ROOM_TAG or (e.get("type") == "m.room.create"
                                                 and e.get("sender") == self.user_id)
                   for e in resp.events)

    async def _not_direct(self, room_id: str, owner: str, others: list[str]) -> None:
        from wisbot.services.notify import notify

        host = self._host

        def closed() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Direct chat closed"), kind="alert")
            b.line(_t("A direct chat with wisbot ({room_id}) of ",
                      room_id=room_id), Span(text=owner, style="user"),
                   _t(" had other people in it:"))
            for who in others:
                b.line("• ", Span(text=who, style="user"))
            b.line(_t("wisbot left it; nothing more is sent there."))
            return b.build()

        await self._alert(closed)
        contact = self.directory.contact_by_chat(PLATFORM, owner)
        if contact is None:
            return

        def tell(s: Session) -> None:  # in the person's language
            with i18n.use(person_language(s, self.directory, contact.id)):
                t = ReplyBuilder(_t("Direct chat closed"), kind="alert")
                t.line(_t("Someone else joined or was invited to your direct chat with wisbot "
                          "({room_id}), so wisbot left it. This is your new direct chat.",
                          room_id=room_id))
                reply = t.build()
            notify(s, kind="alert", now=host.clock(), incident_id=None, deliveries=[],
                   direct=[(contact.id, reply)])

        await host.store.tx(tell)
        host.wake_outbox()

    async def _alert(self, reply: Render) -> None:
        """Tell the Secretariat; ``reply``: a function building the notice, called in each
        Secretariat room's language."""
        from wisbot.services.holds import WEAK_REASONS
        from wisbot.services.integrity import alert_secretariat

        host = self._host
        # rooms only waiting for a check get the alert once checked; a room with a real
        # finding (a stranger) never does: those alerts go to the Secretariat directly
        held = {k for k in host.holds
                if (h := host.holds.hold_of(k)) is not None and h.reason not in WEAK_REASONS}
        await host.store.tx(lambda s: alert_secretariat(
            s, host.directory, kind="integrity", reply=reply, held=held, now=host.clock()))
        host.wake_outbox()


def _remember(done: OrderedDict[str, str], key: str, value: str, limit: int = 10_000) -> None:
    done[key] = value
    while len(done) > limit:
        done.popitem(last=False)


# ----- provisioning ---------------------------------------------------------------------

def _preset(name: str) -> Any:
    from nio.api import RoomPreset

    return RoomPreset(name)


def _closed_direct(events: list[dict[str, Any]], bot: str) -> bool:
    """Whether a direct room may carry private content: invite only, no guests, history
    for members from their invitation or join (a third person let in later reads nothing
    from before), and nobody but the bot may invite, change a setting, kick or redact. A
    room made by someone else in a version where creators stand above every level never
    is (a client's "start a chat" room gives its maker all power: never trusted)."""
    from wisbot.services.integrity import creators_privileged, weak_settings

    state = {(e.get("type"), e.get("state_key", "")): e.get("content") or {}
             for e in events}
    create = next((e for e in events if e.get("type") == "m.room.create"), None)
    if create is None:
        return False
    content = create.get("content") or {}
    others = set(content.get("additional_creators") or []) - {bot}
    if others or (create.get("sender") != bot and creators_privileged(
            str(content.get("room_version", "1")))):
        return False
    join_rule = state.get(("m.room.join_rules", ""), {}).get("join_rule")
    return join_rule == "invite" and not weak_settings(
        bot=bot, moderators=(), join_rule=join_rule,
        history_visibility=state.get(("m.room.history_visibility", ""), {}).get(
            "history_visibility", "shared"),
        guest_access=state.get(("m.room.guest_access", ""), {}).get("guest_access",
                                                                      "forbidden"),
        power=state.get(("m.room.power_levels", ""), {}),
        histories=("joined", "invited"))


def _closed_state(history: str = "joined") -> list[dict[str, Any]]:
    """Invite-only, history for members from their own join, no guests."""
    return [{"type": "m.room.history_visibility", "state_key": "",
             "content": {"history_visibility": history}},
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {"type": "m.room.guest_access", "state_key": "",
             "content": {"guest_access": "forbidden"}}]


def _encryption_state() -> dict[str, Any]:
    return {"type": "m.room.encryption", "state_key": "",
            "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


ROOM_TAG = "org.wmo.wisbot.room"
"""A state event set when a room is created (``{"key": <room key>}``): provisioning finds
the rooms it made even when it died before it could write their ids anywhere."""

Progress = Callable[[str], None]


async def _paced(what: str, call: Callable[[], Awaitable[Any]], progress: Progress,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Any:
    """One homeserver call, waiting out ``M_LIMIT_EXCEEDED`` (its ``retry_after_ms``) as
    often as it takes: a rate limit never fails the run."""
    while True:
        resp = await call()
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_LIMIT_EXCEEDED":
                wait = max(0.5, (resp.retry_after_ms or 1000) / 1000)
                progress(f"  rate limited by the homeserver ({what}): waiting {wait:.0f} s")
                await sleep(wait)
                continue
            raise MatrixError(what, resp.status_code, resp.message or "")
        return resp


async def default_room_version(client: AsyncClient) -> str:
    """The version the homeserver gives new rooms (``/capabilities``); "1" if unknown."""
    import aiohttp

    url = client.homeserver + "/_matrix/client/v3/capabilities"
    headers = {"Authorization": f"Bearer {client.access_token}"}
    try:
        async with aiohttp.ClientSession() as http, http.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            body = await resp.json()
        return str(body["capabilities"]["m.room_versions"]["default"])
    except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError):
        return "1"


async def _tagged_rooms(client: AsyncClient, progress: Progress) -> dict[str, str]:
    """``{room key: room id}`` of the rooms the bot is in that provisioning made."""
    joined = await _paced("list joined rooms", client.joined_rooms, progress)
    out: dict[str, str] = {}
    for room_id in joined.rooms:
        resp = await client.room_get_state_event(room_id, ROOM_TAG)
        key = getattr(resp, "content", {}).get("key") if not isinstance(
            resp, ErrorResponse) else None
        if isinstance(key, str):
            out.setdefault(key, room_id)
    return out


async def _state_of(client: AsyncClient, room_id: str, progress: Progress
                    ) -> dict[tuple[str, str], dict[str, Any]]:
    resp = await _paced(f"read the state of {room_id}",
                        lambda: client.room_get_state(room_id), progress)
    return {(e["type"], e.get("state_key", "")): e.get("content", {}) for e in resp.events}


async def _invite_missing(client: AsyncClient, room_id: str, invite: list[str],
                          progress: Progress) -> list[str]:
    state = await _state_of(client, room_id, progress)
    present = {k for (t, k), c in state.items() if t == "m.room.member"
               and c.get("membership") in ("join", "invite")}
    missing = [u for u in invite if u not in present]
    for user in missing:
        await _paced(f"invite {user} to {room_id}",
                     lambda u=user: client.room_invite(room_id, u), progress)  # type: ignore[misc]
    return missing


async def tighten(client: AsyncClient, room_id: str, moderators: set[str],
                  progress: Progress) -> list[str]:
    """Make an existing room as closed as a provisioned one; returns what was changed."""
    from wisbot.services.integrity import (
        closed_power_levels,
        creators_privileged,
        weak_settings,
    )

    bot = str(client.user_id)
    state = await _state_of(client, room_id, progress)
    power = state.get(("m.room.power_levels", ""), {})
    weak = weak_settings(
        bot=bot, moderators=moderators,
        join_rule=state.get(("m.room.join_rules", ""), {}).get("join_rule"),
        history_visibility=state.get(("m.room.history_visibility", ""), {}).get(
            "history_visibility"),
        guest_access=state.get(("m.room.guest_access", ""), {}).get("guest_access",
                                                                      "forbidden"),
        power=power)
    if not weak:
        return []
    version = str(state.get(("m.room.create", ""), {}).get("room_version", "1"))
    privileged = creators_privileged(version)
    closed = closed_power_levels(bot, moderators, creator_privileged=privileged)
    users = {u: 0 for u, p in (power.get("users") or {}).items()
             if isinstance(p, int) and p > 0 and u != bot}
    users.update(closed["users"])
    content = {**power, **closed, "users": users,
               "events": {**(power.get("events") or {}), **closed["events"]}}
    wanted = [("m.room.power_levels", content),
              ("m.room.join_rules", {"join_rule": "invite"}),
              ("m.room.history_visibility", {"history_visibility": "joined"}),
              ("m.room.guest_access", {"guest_access": "forbidden"})]
    for event_type, body in wanted:
        if state.get((event_type, "")) == body and event_type != "m.room.power_levels":
            continue
        await _paced(f"set {event_type} in {room_id}", lambda t=event_type, c=body:  # type: ignore[misc]
                     client.room_put_state(room_id, t, c), progress)
    return weak


async def ensure_topic(client: AsyncClient, room_id: str, role: str,
                       progress: Progress) -> bool:
    """Set the room's topic to name the strictest TLP it may receive; True if changed."""
    state = await _state_of(client, room_id, progress)
    wanted = room_topic(role)
    if state.get(("m.room.topic", ""), {}).get("topic") == wanted:
        return False
    await _paced(f"set m.room.topic in {room_id}", lambda: client.room_put_state(
        room_id, "m.room.topic", {"topic": wanted}), progress)
    return True


async def provision(client: AsyncClient, directory_data: dict[str, Any], *,
                    on_room: Callable[[str, str], None] | None = None,
                    progress: Progress | None = None, tighten_existing: bool = False,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                    ) -> dict[str, str]:
    """Create every Matrix room the directory names without an address, closed: only the
    bot invites and changes settings (the Secretariat may also remove people), invite-only,
    history visible to members from their own join, no guests, encrypted when asked; invite
    its audience. ``on_room(key, room id)`` is called as soon as each room exists (to store
    the id); a room made by an earlier run that died is found again (its ``ROOM_TAG``) and
    completed, not made twice. Rate limits are waited out. With ``tighten_existing``, rooms
    that already have an address are made as closed (``--tighten``). Returns
    ``{room key: room id}`` of the rooms made or found, and writes the ids into
    ``directory_data``."""
    from wisbot.directory import parse_directory
    from wisbot.services.integrity import closed_power_levels, creators_privileged, invitees

    say = progress or (lambda _line: None)
    rooms = [r for r in directory_data.get("rooms", []) if r.get("platform") == "matrix"]
    todo = [r for r in rooms if not r.get("address")]
    placeholder = {**directory_data, "rooms": [
        {**r, "address": r.get("address") or f"!pending-{r['key']}:provision"}
        for r in directory_data.get("rooms", [])]}
    directory = parse_directory(placeholder, "<directory>")
    bot = str(client.user_id)
    moderators = {c.chat_id("matrix") or "" for c in directory.contacts
                  if c.is_secretariat} - {"", bot}
    found = await _tagged_rooms(client, say) if todo else {}
    privileged = creators_privileged(await default_room_version(client)) if todo else False
    power = closed_power_levels(bot, moderators, creator_privileged=privileged)
    made: dict[str, str] = {}
    for n, raw in enumerate(todo, 1):
        room = directory.room(raw["key"])
        invite = [u for c in invitees(directory, room)
                  if (u := c.chat_id("matrix")) and u != bot]
        room_id = found.get(room.key)
        if room_id is not None:
            missing = await _invite_missing(client, room_id, invite, say)
            say(f"room {n}/{len(todo)}: {room.key} was made by an earlier run: {room_id}"
                + (f" ({len(missing)} invitation(s) completed)" if missing else ""))
        else:
            state = [*_closed_state(),
                     {"type": ROOM_TAG, "state_key": "", "content": {"key": room.key}}]
            if room.encrypted:
                state.append(_encryption_state())
            resp = await _paced(f"create room {room.key}", lambda r=room, st=state, i=invite:  # type: ignore[misc]
                                client.room_create(
                                    name=r.name or r.key, topic=room_topic(r.role),
                                    preset=_preset("private_chat"), invite=i,
                                    initial_state=st,
                                    power_level_override=power),
                                say, sleep)
            room_id = str(resp.room_id)
            say(f"room {n}/{len(todo)}: created {room.key}: {room_id}")
        raw["address"] = room_id
        made[room.key] = room_id
        if on_room is not None:
            on_room(room.key, room_id)
    bound = [r for r in rooms if r.get("address") and r["key"] not in made]
    failed: list[str] = []
    for n, raw in enumerate(bound, 1):
        if not tighten_existing:
            continue
        try:
            changed = await tighten(client, raw["address"], moderators, say)
        except MatrixError as exc:
            failed.append(raw["key"])
            say(f"checked {n}/{len(bound)}: {raw['key']}: could NOT tighten: {exc}")
            continue
        if await ensure_topic(client, raw["address"], directory.room(raw["key"]).role, say):
            changed.append("topic names its TLP")
        say(f"checked {n}/{len(bound)}: {raw['key']}: "
            + ("tightened (" + "; ".join(changed) + ")" if changed else "closed"))
    if failed:
        raise MatrixError("tighten", None, f"{len(failed)} room(s) could not be tightened: "
                          f"{', '.join(failed)} (see above)")
    return made


def default_store_path(database_url: str) -> Path:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "matrix-store"
    return Path("matrix-store")


# ----- replies about the command itself -------------------------------------------------

def _thread_of(item: _Pending) -> str | None:
    relates = item.relates
    if relates.get("rel_type") == "m.thread" and relates.get("event_id"):
        return str(relates["event_id"])
    return None


def _relation(reply: Reply) -> dict[str, Any] | None:
    """An answer replies to its command, in the command's thread if it had one."""
    if reply.reply_to is None:
        return None
    if reply.thread:
        return {"rel_type": "m.thread", "event_id": reply.thread, "is_falling_back": True,
                "m.in_reply_to": {"event_id": reply.reply_to}}
    return {"m.in_reply_to": {"event_id": reply.reply_to}}


def _is_ack(item: _Pending) -> bool:
    if "ack_of" in item.relates:
        return True
    words = item.text.lstrip("!/").split()
    return bool(words) and words[0].lower() == "ack"


def _late(reply: Reply, sent: datetime, late: timedelta) -> Reply:
    minutes = max(1, int(late.total_seconds() // 60))
    with i18n.use(reply.lang):  # the answer's reader's
        note = (Span(text=_t("Note: this command was sent at {sent:%Y-%m-%d %H:%M} UTC and "
                             "reached wisbot {minutes} min late (wisbot was unavailable); it "
                             "was processed now.", sent=sent, minutes=minutes),
                     style="italic"),)
    return reply.model_copy(update={"lines": (note, *reply.lines)})


def _interrupted_reply() -> Reply:
    b = ReplyBuilder(_t("Command interrupted"), kind="error")
    b.line(_t("wisbot was interrupted while handling this command and cannot tell whether it "
              "took effect. Check with `incident list` before repeating it."))
    return b.build(private=True)


def _working_reply() -> Reply:
    return text_reply(_t("Working on it… this command takes a while; the answer follows here."))


def _pointer_reply() -> Reply:
    return text_reply(_t("I have answered you in a direct message."))


def _undeliverable_reply() -> Reply:
    return text_reply(_t("I could not answer you privately (no direct chat with you alone), "
                         "and the answer may not be shown here. Ask in a direct chat with "
                         "wisbot."), kind="error")


def _undelivered_reply() -> Reply:
    return text_reply(_t("Your answer could not be delivered; the operators have it."),
                      kind="error")


def _made_by_you_reply() -> Reply:
    return text_reply(_t("wisbot answers privately only in a direct chat it opens itself "
                         "(closed: only you and wisbot, and nobody may be let in): the answer "
                         "is there; accept its invitation if you have not yet."))


def _not_direct_reply() -> Reply:
    return text_reply(_t("This chat has other people in it, so wisbot answers nothing here. "
                         "Start a direct chat with wisbot alone."), kind="error")


def _not_a_page_reply() -> Reply:
    return text_reply(_t("Only a page can be acknowledged this way: react with ✅ to the page "
                         "message, or type `ack P-<number>`."), kind="error", private=True)


# ----- durable state (adapter_state rows) -----------------------------------------------

def _get_state(session: Session, name: str) -> str | None:
    row = session.get(AdapterState, (PLATFORM, name))
    return row.value if row is not None else None


def _set_state(session: Session, name: str, value: str, now: datetime) -> None:
    row = session.get(AdapterState, (PLATFORM, name))
    if row is None:
        session.add(AdapterState(platform=PLATFORM, name=name, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
        session.add(row)


def _del_state(session: Session, name: str) -> None:
    row = session.get(AdapterState, (PLATFORM, name))
    if row is not None:
        session.delete(row)


def _power_content(nio_room: Any) -> dict[str, Any]:
    """nio's parsed power levels as ``m.room.power_levels`` content."""
    pl = nio_room.power_levels
    d = pl.defaults
    return {"users": dict(pl.users), "events": dict(pl.events), "invite": d.invite,
            "kick": d.kick, "ban": d.ban, "redact": d.redact, "state_default": d.state_default,
            "events_default": d.events_default, "users_default": d.users_default}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dm_name(user_id: str) -> str:
    return "dm:" + hashlib.sha256(user_id.encode()).hexdigest()[:40]


def _get_dms(session: Session) -> dict[str, str]:
    """``{user id: direct room id}``; each row's value is ``"<room id> <user id>"``."""
    rows = session.exec(select(AdapterState).where(AdapterState.platform == PLATFORM,
                                                   col(AdapterState.name).startswith("dm:")))
    out: dict[str, str] = {}
    for r in rows:
        room_id, _, user_id = r.value.partition(" ")
        out[user_id] = room_id
    return out


def _event_name(event_id: str) -> str:
    return "ev:" + (event_id if len(event_id) <= 61 else
                    hashlib.sha256(event_id.encode()).hexdigest()[:40])


def _encode(item: _Pending) -> str:
    return json.dumps({"room": item.room_id, "event": item.event_id, "sender": item.sender,
                       "text": item.text, "ts": item.ts.isoformat(), "relates": item.relates},
                      sort_keys=True)


def _decode(raw: str) -> _Pending:
    d = json.loads(raw)
    return _Pending(d["room"], d["event"], d["sender"], d["text"],
                    datetime.fromisoformat(d["ts"]), d["relates"])


def _insert(session: Session, model: Any) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql"
            else sqlite_insert)(model)


def _claim(session: Session, item: _Pending, now: datetime) -> bool:
    """Claim a command for this process, queued with what it needs to run: True only for
    the one process (or run) that saw it first. Idempotent: the same event seen again, or
    by a second process on the account, is a no-op, never an error."""
    row = session.execute(
        _insert(session, AdapterState).values(
            platform=PLATFORM, name=_event_name(item.event_id),
            value="queued " + _encode(item), updated_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "name"])
        .returning(col(AdapterState.name))).first()
    return row is not None


def _take(session: Session, item: _Pending, old: str, new: str, now: datetime) -> bool:
    """Move a claim from state ``old`` to ``new`` if no one else has: exactly once."""
    value = new if new == "done" else f"{new} {_encode(item)}"
    result = session.execute(
        update(AdapterState).where(col(AdapterState.platform) == PLATFORM,
                                   col(AdapterState.name) == _event_name(item.event_id),
                                   col(AdapterState.value) == f"{old} {_encode(item)}")
        .values(value=value, updated_at=now))
    return bool(getattr(result, "rowcount", 0))


def _touch(session: Session, event_id: str, now: datetime) -> None:
    session.execute(update(AdapterState).where(col(AdapterState.platform) == PLATFORM,
                                               col(AdapterState.name) == _event_name(event_id))
                    .values(updated_at=now))


def _open_claims(session: Session) -> list[tuple[str, _Pending, datetime]]:
    """Commands queued or being handled: (state, command, last sign of life)."""
    rows = session.exec(select(AdapterState).where(
        AdapterState.platform == PLATFORM, col(AdapterState.name).startswith("ev:"),
        or_(col(AdapterState.value).startswith("queued "),
            col(AdapterState.value).startswith("claimed "))))
    out = []
    for r in rows:
        state, _, raw = r.value.partition(" ")
        try:
            out.append((state, _decode(raw), r.updated_at))
        except (ValueError, KeyError) as exc:
            log.warning("matrix: unreadable command claim %s: %s", r.name, exc)
    return out


def _prune_claims(session: Session, now: datetime) -> None:
    """Forget handled claims older than a week (a sync token never goes back that far).
    Runs at start and with the periodic check, not in the claim on every command's path."""
    session.execute(delete(AdapterState).where(
        col(AdapterState.platform) == PLATFORM, col(AdapterState.name).startswith("ev:"),
        col(AdapterState.value) == "done", col(AdapterState.updated_at) < now - CLAIM_DAYS))


@dataclass(frozen=True)
class _Row:
    """An answer to a command, for the outbox: where (a room key or ``@contact``)."""

    room_key: str
    key: str
    reply: Reply


def _reply_key(event_id: str, part: str) -> str:
    """The outbox key of an answer: from the command's event, so a second process or a
    second look at the same command never queues it twice."""
    return f"mx{part}-" + hashlib.sha256(event_id.encode()).hexdigest()[:48]


def _enqueue_reply(session: Session, row: _Row, now: datetime) -> None:
    platform = "" if row.room_key.startswith("@") else PLATFORM
    session.execute(
        _insert(session, OutboxRow).values(
            key=row.key, room_key=row.room_key, platform=platform,
            payload=row.reply.model_dump(mode="json"), status="pending", attempts=0,
            next_attempt_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=["key"]))


def _page_of(session: Session, event_id: str) -> str | None:
    """The page a bot message delivered from the outbox asks to acknowledge; ``None``
    for anything else (an incident notice, an alert, an answer)."""
    row = session.exec(select(OutboxRow).where(OutboxRow.message_id == event_id)).first()
    if row is None:
        return None
    try:
        reply = Reply.model_validate(row.payload)
    except ValueError:
        return None
    return reply.ref if is_page(reply) else None
