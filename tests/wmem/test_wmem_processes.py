"""Two wisbot processes on one PostgreSQL, both subscribed to the local Mosquitto, hear the
same events: each event is handled by exactly one of them, one ticket per centre."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
from sqlalchemy import create_engine, text

from tests._services import require_tcp
from tests.wmem.conftest import event, raw

ROOT = Path(__file__).resolve().parent.parent.parent


async def test_two_processes_on_postgres_handle_each_event_once(postgres_database: str) -> None:
    require_tcp("127.0.0.1", 1883, "Mosquitto")
    from tests.conftest import _truncate

    _truncate(postgres_database)
    run = f"xx{uuid.uuid4().hex[:6]}"
    docs: list[dict[str, Any]] = []
    for i in range(10):
        first = event("gm-report", subject=f"{run}-node{i}")
        docs += [first, event("gm-report", subject=f"{run}-node{i}", data_ref=first["id"]),
                 event("gdc-wcmp2-ets", subject=f"{run}-node{i}")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.wmem.proc_subscriber", postgres_database,
        str(len(docs)), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout is not None
            line = await asyncio.wait_for(p.stdout.readline(), 60)
            assert line.strip() == b"ready", (line, await p.stderr.read())  # type: ignore[union-attr]
        async with aiomqtt.Client("127.0.0.1", 1883, timeout=30) as pub:
            for d in docs:  # twice, as from two Global Brokers
                for _ in range(2):
                    await pub.publish(f"monitor/a/wis2/{d['subject']}", raw(d), qos=1)
        outs = []
        for p in procs:
            out, err = await asyncio.wait_for(p.communicate(), 120)
            assert p.returncode == 0, err.decode()[-2000:]
            outs.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    handled = [sum(v for k, v in o.items() if k != "duplicate") for o in outs]
    assert sum(handled) == len(docs)  # each event once, by one process or the other
    assert sum(o.get("ticket", 0) for o in outs) == 10
    engine = create_engine(postgres_database.replace("postgresql://", "postgresql+psycopg://")
                           if "+psycopg" not in postgres_database else postgres_database)
    with engine.connect() as conn:
        tickets = conn.execute(text("SELECT subject, count(*) FROM watch_ticket "
                                    "GROUP BY subject")).all()
        events = conn.execute(text("SELECT count(*) FROM wmem_event")).scalar_one()
        notes = conn.execute(text("SELECT count(*) FROM watch_ticket_event WHERE kind='note'"))\
            .scalar_one()
    engine.dispose()
    assert sorted(n for _, n in tickets) == [1] * 10
    assert events == len(docs)
    assert notes == 10
