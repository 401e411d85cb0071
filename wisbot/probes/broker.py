"""Global Broker probe over MQTT (aiomqtt).

Connects as ``everyone``/``everyone`` (the WIS2 public credentials), subscribes to
``origin/a/wis2/#`` for a short window, counts messages and the age of the newest one
(from ``properties.pubtime`` when the payload is a WIS2 notification, else the time it
arrived), then checks that a publish is refused: it publishes one small non-retained message
to a probe topic and watches for it to come back. A broker that delivers it has accepted a
publish from ``everyone``, which a Global Broker must not do.

URL schemes: ``mqtt://`` (tcp), ``mqtts://`` (tcp+TLS), ``ws://`` / ``wss://`` (WebSockets).
Options: ``username``, ``password``, ``topic``, ``window_s`` (default 10), ``check_publish``
(default true), ``publish_topic``, ``publish_wait_s`` (default 2), ``ca_file`` (TLS trust),
``websocket_path``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import aiomqtt

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError
from wisbot.probes.model import Outcome, ProbeLimits, ProbeStatus, ProbeTarget

DEFAULT_TOPIC = "origin/a/wis2/#"
DEFAULT_PUBLISH_TOPIC = "origin/a/wis2/wisbot-probe/publish-check"
PUBLIC_USER = "everyone"


def notification_pubtime(payload: bytes) -> datetime | None:
    """``properties.pubtime`` of a WIS2 notification message, or None if it is not one."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("properties"), dict):
        return None
    raw = doc["properties"].get("pubtime")
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _connection(target: ProbeTarget) -> dict[str, Any]:
    parts = urlsplit(target.url)
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts", "ws", "wss", "tcp", "ssl"):
        raise ProbeError(f"unsupported broker URL scheme {scheme!r} (use mqtt, mqtts, ws, wss)")
    tls = scheme in ("mqtts", "wss", "ssl") or bool(target.options.get("tls", False))
    transport: Literal["tcp", "websockets"] = "websockets" if scheme in ("ws", "wss") else "tcp"
    default_port = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883, "ws": 80, "wss": 443}
    kwargs: dict[str, Any] = {
        "hostname": parts.hostname or "localhost",
        "port": parts.port or default_port[scheme],
        "transport": transport,
        "username": str(target.options.get("username", PUBLIC_USER)),
        "password": str(target.options.get("password", PUBLIC_USER)),
        "protocol": aiomqtt.ProtocolVersion.V5,
        "identifier": f"wisbot-probe-{uuid.uuid4().hex[:12]}",
    }
    if transport == "websockets":
        kwargs["websocket_path"] = str(target.options.get("websocket_path", parts.path or "/mqtt"))
    if tls:
        ctx = ssl.create_default_context(cafile=target.options.get("ca_file"))
        kwargs["tls_context"] = ctx
    return kwargs


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "ertificate" in text:
        return r.CERT.en(error=text)
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        return r.BROKER_REFUSED.en(error=text)
    return r.BROKER_CONNECT.en(error=text)


async def probe_broker(target: ProbeTarget, limits: ProbeLimits) -> Outcome:
    opts = target.options
    topic = str(opts.get("topic", DEFAULT_TOPIC))
    window = float(opts.get("window_s", 10.0))
    check_publish = bool(opts.get("check_publish", True))
    publish_topic = str(opts.get("publish_topic", DEFAULT_PUBLISH_TOPIC))
    publish_wait = float(opts.get("publish_wait_s", 2.0))
    kwargs = _connection(target)

    count = 0
    newest: datetime | None = None
    from_pubtime = 0
    accepted: bool | None = None
    try:
        async with asyncio.timeout(limits.connect_timeout):
            client = aiomqtt.Client(timeout=limits.connect_timeout, **kwargs)
            await client.__aenter__()
    except TimeoutError as exc:
        raise ProbeError(
            r.BROKER_TIMEOUT.en(seconds=f"{limits.connect_timeout:g}")
        ) from exc
    except (aiomqtt.MqttError, OSError) as exc:
        raise ProbeError(_describe(exc)) from exc
    try:
        await client.subscribe(topic, qos=0)
        deadline = time.monotonic() + window
        try:
            async with asyncio.timeout(window):
                async for message in client.messages:
                    if str(message.topic) == publish_topic:
                        continue
                    count += 1
                    payload = message.payload if isinstance(message.payload, bytes) else b""
                    when = notification_pubtime(payload)
                    if when is None:
                        when = datetime.now(UTC)
                    else:
                        from_pubtime += 1
                    if newest is None or when > newest:
                        newest = when
        except TimeoutError:
            pass  # the window is over
        if time.monotonic() < deadline - 0.05:
            raise ProbeError(r.BROKER_CLOSED.en())
        if check_publish:
            marker = f"wisbot publish check {uuid.uuid4()}".encode()
            await client.subscribe(publish_topic, qos=1)
            try:
                await client.publish(publish_topic, marker, qos=1, retain=False)
            except aiomqtt.MqttCodeError:
                accepted = False  # a v5 PUBACK with a failure reason code
            else:
                accepted = False
                try:
                    async with asyncio.timeout(publish_wait):
                        async for message in client.messages:
                            if message.payload == marker:
                                accepted = True
                                break
                except TimeoutError:
                    pass
    except aiomqtt.MqttError as exc:
        raise ProbeError(r.BROKER_FAILED.en(error=exc)) from exc
    finally:
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            pass  # already disconnected; nothing left to release

    age_s = (datetime.now(UTC) - newest).total_seconds() if newest else None
    details: dict[str, Any] = {
        "topic": topic,
        "window_s": window,
        "messages": count,
        "newest_age_s": age_s,
        "newest_at": newest.isoformat() if newest else None,
        "ages_from_pubtime": from_pubtime,
        "transport": kwargs["transport"],
        "tls": "tls_context" in kwargs,
        "publish_check": None if accepted is None else ("accepted" if accepted else "refused"),
    }
    if accepted:
        return Outcome(
            ProbeStatus.DEGRADED, count, r.BROKER_OPEN.en(), details
        )
    if count == 0:
        return Outcome(
            ProbeStatus.DEGRADED, 0, r.BROKER_QUIET.en(topic=topic, seconds=f"{window:g}"),
            details
        )
    return Outcome(ProbeStatus.OK, count, None, details)
