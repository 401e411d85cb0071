"""Benchmark: a ``group`` incident cascading to 17 Slack channels under Slack's pacing of
one message per second per channel.

The incident is reported and then updated, so each of the 17 channels gets two messages
and the second must wait a full second behind the first. wisbot paces per channel and
delivers channels in parallel, so the whole cascade should take about one second. The
baseline, measured in the same run, is the sequential sum: the time of every paced send
added up, which is what delivering one message at a time would take (about 17 s).
``--measure-sequential`` also runs the cascade for real with one room at a time.

Slack is a hosted service: the Web API here is the local fake of ``tests/_fake_slack.py``
(loopback, random port) answering each ``chat.postMessage`` after a simulated 50 ms round
trip. Run: ``python benchmarks/bench_slack.py`` (needs the ``slack`` extras).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from tests._fake_slack import FakeSlack, slack_directory, slack_id  # noqa: E402
from wisbot.adapters.base import Invocation, UserRef  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.ids import Platform  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402

EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
GISCS = ("beijing", "brasilia", "casablanca", "exeter", "jeddah", "melbourne", "moscow",
         "new-delhi", "offenbach", "pretoria", "seoul", "tehran", "tokyo", "toulouse",
         "washington")
ROOMS = ("secretariat", *(f"gisc-{g}" for g in GISCS), "collaboration")
PACE = 1.0
RTT = 0.05


async def cascade(*, concurrency: int | None = None) -> tuple[float, float, int, int]:
    """(wall time of the cascade, sum of the paced send times, messages, channels)."""
    fake = await FakeSlack().start()
    fake.post_delay = RTT
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = Settings(database_url=url, directory=EXAMPLE, adapters=["slack"],
                            slack_bot_token=SecretStr("xoxb-bench"),
                            slack_app_token=SecretStr("xapp-bench"),
                            slack_signing_secret=SecretStr("bench-secret"), slack_mode="http",
                            slack_http_port=0, slack_api_base_url=fake.api_url,
                            slack_pace_seconds=PACE, slack_integrity_interval=0)
        app = App(settings, directory=slack_directory(EXAMPLE, only_rooms=ROOMS),
                  run_worker=False)
        await app.start()
        try:
            adapter: Any = app.adapters["slack"]
            durations: list[float] = []
            send = adapter.send

            async def timed_send(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await send(*args, **kwargs)
                finally:
                    durations.append(time.perf_counter() - started)

            adapter.send = timed_send
            if concurrency is not None:
                app.outbox.concurrency = concurrency
            slack = Platform("slack")
            reporter = UserRef(slack, slack_id("U", "anna.weber"))
            # Below the paging threshold: paging (direct messages) has its own benchmark.
            for text in ("incident report DE-OF-NC share=group sev=2 Credential stuffing "
                         "against the GISC portals",
                         "incident update WIS-SEC-2026-1 Blocked at the perimeter; rotate "
                         "the portal passwords"):
                reply = await app.dispatch(Invocation(slack, reporter, text))
                assert reply.kind != "error", reply.plain()
            started = time.perf_counter()
            await app.outbox.drain()
            total = time.perf_counter() - started
        finally:
            await app.stop()
            await fake.stop()
        channels = fake.posted_channels()
        assert channels == {slack_id("C", r) for r in ROOMS}, sorted(channels)
        return total, sum(durations), len(fake.posts()), len(channels)


async def main(measure_sequential: bool) -> None:
    total, sequential_sum, messages, channels = await cascade()
    print(f"# baseline = the sequential sum of the sends, {sequential_sum:.2f} s; {messages} "
          f"messages, {PACE:g} msg/s/channel, {RTT * 1000:.0f} ms round trip")
    print(f"slack_group_cascade_{channels}_channels: {total:.2f} s "
          f"(ratio={total / sequential_sum:.3f} vs baseline)")
    if measure_sequential:
        one_by_one, _, _, _ = await cascade(concurrency=1)
        print(f"# baseline = the same cascade one room at a time, {one_by_one:.2f} s")
        print(f"slack_group_cascade_{channels}_channels_vs_one_room_at_a_time: {total:.2f} s "
              f"(ratio={total / one_by_one:.3f} vs baseline)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure-sequential", action="store_true",
                        help="also run the cascade one room at a time (about 17 s more)")
    asyncio.run(main(parser.parse_args().measure_sequential))
