"""Run every benchmark (``benchmarks/bench_*.py``), each in its own process, and end with
one line per result: ``name: value unit (ratio=... vs baseline)``.

``python benchmarks/run.py [name ...]`` runs only the benchmarks whose file name contains
one of the names. A benchmark that cannot run here (a missing service) says why and is
listed as skipped; any other failure makes the run fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT = re.compile(r"^[\w.-]+: [-\d.]+ \S+.* \(ratio=[-\d.]+(e[-+]?\d+)? vs baseline\)$")
SKIP_CODE = 77


def main() -> int:
    wanted = sys.argv[1:]
    files = sorted(p for p in HERE.glob("bench_*.py")
                   if not wanted or any(w in p.name for w in wanted))
    results: list[str] = []
    failed: list[str] = []
    skipped: list[str] = []
    for path in files:
        print(f"== {path.name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              cwd=HERE.parent, timeout=1200)
        sys.stdout.write(proc.stdout)
        if proc.returncode == SKIP_CODE:
            skipped.append(f"{path.name}: {proc.stdout.strip().splitlines()[-1:]}")
            continue
        if proc.returncode != 0:
            sys.stdout.write(proc.stderr[-3000:])
            failed.append(path.name)
            continue
        results += [line for line in proc.stdout.splitlines() if RESULT.match(line)]
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
    print("\n== results")
    for line in skipped:
        print(f"# skipped {line}")
    for line in results:
        print(line)
    if failed:
        print(f"# failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
