"""``make bench``: run every ``benchmarks/bench_*.py`` in turn, each in its own process;
each prints lines ``name: value unit (ratio=X vs baseline)``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    failed = []
    for bench in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"# {bench.name}", flush=True)
        if subprocess.run([sys.executable, str(bench)], check=False).returncode != 0:
            failed.append(bench.name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
