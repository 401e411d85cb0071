"""`incident update` with known errors to suggest, read anonymised by the reporter.

Every report and update is compared with the symptoms of the known errors the reporter may
see; an anonymised reader's are redacted first (the match is made on the words they read).
Load: N known errors of Germany shared anonymously; Japan's focal point updates its own
incident with text that matches none of them (the whole table is scanned) and, last, one
that matches. Baseline, measured in the same run: the same updates before any known error
exists. Target: with 1,000 known errors an update costs at most 3× the baseline.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402

N_KNOWN = int(os.environ.get("BENCH_N", "1000"))
ROUNDS = 15
NUMBER = "WIS-SEC-{year}-1"


async def timed(adapter: ConsoleAdapter, number: str) -> float:
    times: list[float] = []
    for i in range(ROUNDS):
        t0 = time.perf_counter()
        reply = await adapter.type("hiro.sato", f"incident update {number} Disk {i} on the "
                                   "archive server filled up overnight")
        times.append(time.perf_counter() - t0)
        assert reply.kind != "error", reply.plain()
        assert "Known errors" not in reply.plain()
    return statistics.median(times)


async def run(tmp: str) -> tuple[float, float]:
    url = f"sqlite:///{tmp}/kedb.db"
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, directory=ROOT / "deploy" / "directory.example.yaml")
    async with App(settings, adapters=[adapter], run_worker=False) as app:
        reply = await adapter.type("hiro.sato", "incident report JP-GISC share=secretariat "
                                   "sev=2 Something odd")
        assert reply.kind == "incident", reply.plain()
        number = NUMBER.format(year=app.clock().year)
        baseline = await timed(adapter, number)
        for i in range(N_KNOWN):
            reply = await adapter.type(
                "anna.weber", f'kedb add share=anonymous "DWD relay {i} at EDZW" "phishing '
                f'mails variant{i} reach operators through relay" Block sender {i}; ask '
                "Anna Weber", "member-de")
            assert reply.kind != "error", reply.plain()
        loaded = await timed(adapter, number)
        hit = await adapter.type("hiro.sato", f"incident update {number} phishing mails "
                                 "reach operators through the relay")
        assert "Known errors that may match" in hit.plain() and "EDZW" not in hit.plain()
    return baseline, loaded


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline, loaded = asyncio.run(run(tmp))
    print(f"# update without known errors: {baseline * 1000:.1f} ms")
    print(f"update_with_{N_KNOWN}_known_errors: {loaded * 1000:.1f} ms "
          f"(ratio={loaded / baseline:.2f} vs baseline)")


if __name__ == "__main__":
    main()
