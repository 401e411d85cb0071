"""The example directory with WMO regions and auditors, for the audit, continuity and drill
tests. Written by hand: regions as the WMO lists its Regional Associations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wisbot.directory import Directory, parse_directory

REGIONS = {"CN": "II", "BR": "III", "MA": "I", "GB": "VI", "SA": "II", "AU": "V",
           "RU": "VI", "IN": "II", "DE": "VI", "ZA": "I", "KR": "II", "IR": "II",
           "JP": "II", "FR": "VI", "US": "IV", "KE": "I", "CH": "VI"}
AUDITORS = [
    # Region III, led audits before: may lead an audit of a Region VI centre.
    {"id": "ines.duarte", "name": "Ines Duarte", "roles": ["member:BR"],
     "audit_experience": True},
    # Region I subject expert.
    {"id": "kofi.mensah", "name": "Kofi Mensah", "roles": ["member:KE"]},
    # Region VI (the audited centre's own), experienced.
    {"id": "lena.huber", "name": "Lena Huber", "roles": ["member:CH"],
     "audit_experience": True},
    # Region II, no audit experience.
    {"id": "raj.iyer", "name": "Raj Iyer", "roles": ["member:IN"]},
]


def audit_data(example: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(example.read_text(encoding="utf-8"))
    for member in data["members"]:
        if member["code"] in REGIONS:
            member["region"] = REGIONS[member["code"]]
    data["contacts"] += [dict(a) for a in AUDITORS]
    return data


def audit_directory(example: Path, data: dict[str, Any] | None = None) -> Directory:
    return parse_directory(data or audit_data(example), "audit test directory")
