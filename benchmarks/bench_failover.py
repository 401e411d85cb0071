"""Failover benchmark; each line: ``name: value unit (ratio=X vs baseline)``.

Two real ``wisbot run`` processes (console adapter, default lease settings) on one fresh
PostgreSQL database. The leader is killed with SIGKILL; measured: the time until the
other process logs that its leader's part runs (chat inbound, scheduler) — "follower
serving". Repeated ``--rounds`` times (the killed one is restarted as the new follower).
The baseline is the lease period (``WISBOT_LEADER_LEASE_SECONDS``): a takeover cannot
come before the lease runs out, and must come within 30 s (issue 11).

Needs PostgreSQL: ``WISBOT_BENCH_POSTGRES_URL`` or ``WISBOT_TEST_POSTGRES_URL``
(e.g. ``postgresql://postgres@127.0.0.1:5432/test``); skipped without it.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from wisbot.settings import Settings
from wisbot.store.engine import normalise_url, upgrade

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
SKIP = 77
SERVING = re.compile(r"leading \(epoch (\d+)\): chat inbound and scheduled jobs running")


class Replica:
    def __init__(self, url: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WISBOT_DATABASE_URL": url,
               "WISBOT_DIRECTORY": str(EXAMPLE), "WISBOT_ADAPTERS": "console",
               "WISBOT_WATCH_ENABLED": "false", "WISBOT_LOG_LEVEL": "INFO"}
        self.proc = subprocess.Popen([sys.executable, "-m", "wisbot", "run"], cwd=ROOT,
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.serving: dict[int, float] = {}
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            m = SERVING.search(line)
            if m:
                self.serving[int(m.group(1))] = time.monotonic()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait(cond: object, within: float, what: str, replicas: list[Replica]) -> None:
    deadline = time.monotonic() + within
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            for r in replicas:
                sys.stderr.write("".join(r.lines[-20:]))
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = os.environ.get("WISBOT_BENCH_POSTGRES_URL") or os.environ.get(
        "WISBOT_TEST_POSTGRES_URL")
    if not base:
        print("skipped: set WISBOT_BENCH_POSTGRES_URL (a PostgreSQL server) to measure "
              "failover")
        return SKIP
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    name = f"wisbot_bench_failover_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"skipped: cannot create a database on {base}: {exc}")
        return SKIP
    url = make_url(normalise_url(base)).set(database=name).render_as_string(
        hide_password=False)
    lease = Settings(database_url=url).leader_lease_seconds
    replicas: list[Replica] = []
    times: list[float] = []
    try:
        upgrade(url)
        leader = Replica(url)
        replicas.append(leader)
        wait(lambda: 1 in leader.serving, 60, "the first leader", replicas)
        follower = Replica(url)
        replicas.append(follower)
        time.sleep(3)  # registered and renewing as a follower
        for epoch in range(2, args.rounds + 2):
            killed = time.monotonic()
            leader.kill()
            wait(lambda e=epoch, f=follower: e in f.serving, 60, f"epoch {epoch}", replicas)
            took = follower.serving[epoch] - killed
            times.append(took)
            print(f"# round {epoch - 1}: SIGKILL -> follower serving in {took:.2f} s",
                  flush=True)
            leader, follower = follower, Replica(url)
            replicas.append(follower)
            time.sleep(3)
    finally:
        for r in replicas:
            r.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"# failover: baseline = the lease period, {lease:g} s; target: under 30 s",
          flush=True)
    med = statistics.median(times)
    print(f"failover-sigkill-median: {med:.2f} s (ratio={med / lease:.3f} vs baseline)")
    worst = max(times)
    print(f"failover-sigkill-max: {worst:.2f} s (ratio={worst / lease:.3f} vs baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
