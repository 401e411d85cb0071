"""`incident list all` with many incidents, read in an anonymised room.

Each line of a list read in an anonymised room carries the summary as that room may read
it: the wording the affected Member confirmed, redacted, then cut to one line. Load: N
incidents at Germany's centre shared with the group anonymously, their wording confirmed;
the list is asked in GISC Tokyo's room (anonymised: redaction and a shortened summary per
line). Baseline, measured in the same run: the same list in the Secretariat room (named,
no redaction). Target: the anonymised list costs at most 3× the named one.
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

N_INCIDENTS = int(os.environ.get("BENCH_N", "150"))
ROUNDS = 15


async def timed(adapter: ConsoleAdapter, who: str, room: str) -> tuple[float, int]:
    times: list[float] = []
    lines = 0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        reply = await adapter.type(who, "incident list all", room)
        times.append(time.perf_counter() - t0)
        assert reply.kind != "error", reply.plain()
        lines = len(reply.lines)
    return statistics.median(times), lines


async def run(tmp: str) -> tuple[float, float, int]:
    url = f"sqlite:///{tmp}/lists.db"
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, directory=ROOT / "deploy" / "directory.example.yaml")
    async with App(settings, adapters=[adapter], run_worker=False):
        for i in range(N_INCIDENTS):
            reply = await adapter.type(
                "anna.weber", f"incident report DE-OF-NC share=group anonymous sev={i % 6} "
                f"DWD relay {i}: phishing mails with a fake portal login reached operators "
                "of the message switch at EDZW", "member-de")
            assert reply.kind == "incident", reply.plain()
            await adapter.type("anna.weber", f"incident confirm {i + 1}", "member-de")
        named, named_lines = await timed(adapter, "sec-desk", "secretariat")
        anon, anon_lines = await timed(adapter, "gisc-tokyo", "gisc-tokyo")
        assert named_lines == anon_lines == N_INCIDENTS, (named_lines, anon_lines)
        listed = await adapter.type("gisc-tokyo", "incident list all", "gisc-tokyo")
        assert "EDZW" not in listed.plain() and "DWD" not in listed.plain()
    return named, anon, N_INCIDENTS


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        named, anon, n = asyncio.run(run(tmp))
    print(f"# {n} incidents; named list in the Secretariat room: {named * 1000:.1f} ms")
    print(f"list_all_anonymised_{n}: {anon * 1000:.1f} ms (ratio={anon / named:.2f} vs "
          "baseline)")


if __name__ == "__main__":
    main()
