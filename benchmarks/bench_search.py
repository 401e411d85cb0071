"""`lessons search` in every script with many lessons.

One function decides which lessons match (``lessons.contains_all``: accents folded, word
prefixes, English word forms, Chinese and Arabic anywhere), over the newest 20,000 lessons,
so SQLite and PostgreSQL answer the same. Load: N lessons (English, French, Chinese,
Arabic) of one resolved incident, read by the Secretariat; four searches (an English word
form, a French word without accents, a Chinese and an Arabic word). Baseline, measured in
the same run: the same searches with 100 lessons. Target: with 5,000 lessons a search
stays under 250 ms (median) on this machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402
from wisbot.store.tables import Lesson  # noqa: E402

N_LESSONS = int(os.environ.get("BENCH_N", "5000"))
BASE = 100
ROUNDS = 7
TEXTS = [
    "Rotate the VPN keys of the message switch {i} after staff changes; backups verified.",
    "Renforcer la sécurité du serveur {i} après l'hameçonnage des opérateurs.",
    "第{i}号消息交换机遭到钓鱼攻击后，应启用多因素认证。",
    "تفعيل المصادقة متعددة العوامل على البوابة {i} بعد التصيد الاحتيالي.",
]
QUERIES = ["backup", "hameconnage", "钓鱼", "المصادقة"]


async def search_times(adapter: ConsoleAdapter) -> float:
    times = []
    for _ in range(ROUNDS):
        for q in QUERIES:
            t0 = time.perf_counter()
            reply = await adapter.type("sec-desk", f"lessons search {q}", "secretariat")
            times.append(time.perf_counter() - t0)
            assert reply.kind != "error" and "L-" in reply.plain(), reply.plain()
    return statistics.median(times)


async def add_lessons(app: App, incident_id: int, start: int, end: int) -> None:
    def work(session):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        for i in range(start, end):
            session.add(Lesson(incident_id=incident_id, share="none", author="anna.weber",
                               created_at=now, text=TEXTS[i % len(TEXTS)].format(i=i)))
    await app.store.tx(work)


async def run(tmp: str) -> tuple[float, float]:
    url = f"sqlite:///{tmp}/search.db"
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, directory=ROOT / "deploy" / "directory.example.yaml")
    async with App(settings, adapters=[adapter], run_worker=False) as app:
        reply = await adapter.type("anna.weber", "incident report DE-OF-NC share=secretariat "
                                   "sev=2 Phishing at the message switch", "member-de")
        assert reply.kind == "incident", reply.plain()
        await add_lessons(app, 1, 0, BASE)
        baseline = await search_times(adapter)
        await add_lessons(app, 1, BASE, N_LESSONS)
        loaded = await search_times(adapter)
    return baseline, loaded


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline, loaded = asyncio.run(run(tmp))
    print(f"# search with {BASE} lessons: {baseline * 1000:.1f} ms")
    print(f"search_{N_LESSONS}_lessons: {loaded * 1000:.1f} ms "
          f"(ratio={loaded / baseline:.2f} vs baseline)")


if __name__ == "__main__":
    main()
