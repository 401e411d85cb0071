"""Global Broker probe against a private Mosquitto, with WIS2 notifications published."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest

from wisbot.probes.base import ProbeLimits, ProbeStatus, ProbeTarget, Service, probe

from .servers import missing, notification

LIMITS = ProbeLimits(connect_timeout=2.0, total_timeout=8.0)
PUBTIME = datetime.now(UTC) - timedelta(minutes=5)


@contextlib.asynccontextmanager
async def publisher(port: int, user: str | None, count: int) -> AsyncIterator[None]:
    """Publish ``count`` notifications on origin/a/wis2/... spread over the probe's window."""

    async def run() -> None:
        async with aiomqtt.Client("127.0.0.1", port, username=user, password=user) as c:
            await asyncio.sleep(0.3)  # let the probe subscribe first
            for n in range(count):
                when = PUBTIME + timedelta(seconds=n)
                topic = "origin/a/wis2/de-dwd/data/core/weather/surface-based-observations/synop"
                await c.publish(topic, notification(when, n), qos=1)
                await asyncio.sleep(0.02)
            await c.publish("origin/a/wis2/de-dwd/data/core/other", b"not json", qos=1)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        await task


def target(port: int, **options: object) -> ProbeTarget:
    opts = {"window_s": 1.2, "publish_wait_s": 0.5, **options}
    return ProbeTarget("GB-Test", Service.BROKER, f"mqtt://127.0.0.1:{port}", opts)


async def test_open_broker_accepting_publish_is_degraded(broker_open: dict[str, int]) -> None:
    async with publisher(broker_open["tcp"], None, 5):
        r = await probe(target(broker_open["tcp"]), limits=LIMITS)
    assert r.status is ProbeStatus.DEGRADED
    assert r.reason == "broker accepted a publish from everyone"
    assert r.figure == 6  # 5 notifications + 1 non-JSON message
    assert r.details["ages_from_pubtime"] == 5
    # the newest is the last notification's pubtime (or the non-JSON one's arrival, later)
    assert r.details["newest_age_s"] is not None and r.details["newest_age_s"] < 300


async def test_acl_broker_refuses_publish(broker_acl: dict[str, int]) -> None:
    async with publisher(broker_acl["tcp"], "publisher", 4):
        r = await probe(
            target(broker_acl["tcp"], topic="origin/a/wis2/de-dwd/data/core/weather/#"),
            limits=LIMITS,
        )
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == 4
    assert r.details["publish_check"] == "refused"
    newest = datetime.fromisoformat(r.details["newest_at"])
    assert newest == (PUBTIME + timedelta(seconds=3)).replace(microsecond=0)
    # The age is measured when the probe ran (the module's PUBTIME was taken at import).
    expected_age = (r.checked_at - newest).total_seconds()
    assert expected_age > 290
    assert abs(r.details["newest_age_s"] - expected_age) < 5


async def test_quiet_broker_is_degraded_and_check_can_be_off(broker_acl: dict[str, int]) -> None:
    r = await probe(target(broker_acl["tcp"], check_publish=False, window_s=0.5), limits=LIMITS)
    assert r.status is ProbeStatus.DEGRADED
    assert r.reason == "no messages on origin/a/wis2/# within 0.5 s"
    assert r.details["publish_check"] is None


async def test_wrong_password_is_refused(broker_acl: dict[str, int]) -> None:
    r = await probe(target(broker_acl["tcp"], password="wrong"), limits=LIMITS)
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None and r.reason.startswith("broker refused the connection")


async def test_websockets_transport(broker_open: dict[str, int]) -> None:
    if not broker_open.get("ws"):
        missing("this mosquitto has no websockets listener")
    t = ProbeTarget(
        "GB-Test",
        Service.BROKER,
        f"ws://127.0.0.1:{broker_open['ws']}/mqtt",
        {"window_s": 0.5, "publish_wait_s": 0.5},
    )
    r = await probe(t, limits=LIMITS)
    assert r.details.get("transport") == "websockets", r.reason
    assert r.reason == "broker accepted a publish from everyone"


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:{port}", "http://127.0.0.1:{port}"])
async def test_nothing_listening(url: str) -> None:
    from .servers import free_port

    r = await probe(
        ProbeTarget("GB-Test", Service.BROKER, url.format(port=free_port())), limits=LIMITS
    )
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None
    assert ("cannot connect to the broker" in r.reason) or ("unsupported" in r.reason)
