"""The last line of a test run says what the skips were: PostgreSQL runs without
WISBOT_TEST_POSTGRES_URL, tests whose service (Synapse, Mosquitto, pycsw…) is missing,
and the rest, each group with the most frequent reason."""

from __future__ import annotations

from collections import Counter
from typing import Any

GROUPS = (
    ("PostgreSQL runs", ("postgres",)),
    ("need a service", ("synapse", "mosquitto", "pycsw", "not reachable", "not on path",
                        "matrix-nio", "openssl", "websockets", "bind-mount", "mount(8)")),
)


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def group_of(reason: str) -> str:
    low = reason.lower()
    for name, words in GROUPS:
        if any(w in low for w in words):
            return name
    return "other"


def summary_lines(skipped: list[Any]) -> list[str]:
    if not skipped:
        return []
    counts: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    for report in skipped:
        reason = _reason(report)
        g = group_of(reason)
        counts[g] += 1
        reasons.setdefault(g, Counter())[reason] += 1
    parts = []
    for name in (*(g for g, _ in GROUPS), "other"):
        if counts[name]:
            top = reasons[name].most_common(1)[0][0]
            parts.append(f"{counts[name]} {name} ({top})")
    return [f"{len(skipped)} skipped: " + "; ".join(parts)]


def terminal_summary(terminalreporter: Any) -> None:
    lines = summary_lines(terminalreporter.stats.get("skipped", []))
    for line in lines:
        terminalreporter.write_line(line)
