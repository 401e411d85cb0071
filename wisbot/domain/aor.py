"""Which GISC answers for a WIS2 centre: the area-of-responsibility table.

A WIS2 centre-id starts with its country's ISO 3166 alpha-2 code in lower case
(``de-dwd`` → ``de``); the table maps that code to the GISC responsible for the
country's centres. ``int``, ``ki`` and ``nl`` map to two GISCs each. The table is
WMO's public assignee table of the WIS2 IMS alert bridge (account ids dropped),
shipped as ``wisbot/data/gisc_aor_iso2.csv``.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def table() -> dict[str, tuple[str, ...]]:
    """Country code (or ``int``) → GISC short names, in the table's order."""
    out: dict[str, list[str]] = {}
    text = resources.files("wisbot.data").joinpath("gisc_aor_iso2.csv").read_bytes().decode("utf-8")
    # the published file carries a stray CR after each code
    for row in csv.DictReader(text.replace("\r", "").split("\n")):
        if not row.get("gisc"):
            continue
        giscs = out.setdefault(row["iso2"].strip().lower(), [])
        if row["gisc"].strip() not in giscs:  # "us" is listed twice
            giscs.append(row["gisc"].strip())
    return {k: tuple(v) for k, v in out.items()}


def country_of(centre_id: str) -> str:
    """'de-dwd' → 'de'; 'int-ecmwf' → 'int' (the prefix before the first hyphen)."""
    return centre_id.strip().lower().split("-", 1)[0]


def responsible_giscs(centre_id: str) -> tuple[str, ...]:
    """GISC short names (e.g. ('Offenbach',)) responsible for a centre; () if unknown."""
    return table().get(country_of(centre_id), ())
