"""Identities used across wisbot, documented with an example value each."""

from __future__ import annotations

from typing import NewType

ContactId = NewType("ContactId", str)
"""A directory contact, e.g. ``"anna.weber"``."""

MemberCode = NewType("MemberCode", str)
"""A WMO Member or cooperating organisation, e.g. ``"DE"`` or ``"ECMWF"``."""

CentreCode = NewType("CentreCode", str)
"""A WIS centre, e.g. ``"DE-OF-NC"``."""

GiscName = NewType("GiscName", str)
"""A GISC by its short name, e.g. ``"Offenbach"`` (rendered ``GISC Offenbach``)."""

RoomKey = NewType("RoomKey", str)
"""A directory room by its key, e.g. ``"gisc-offenbach"``."""

RoomRole = NewType("RoomRole", str)
"""A room's role, e.g. ``"secretariat"``, ``"gisc:Offenbach"``, ``"area:Tokyo"``,
``"collaboration"``, ``"member:DE"``, ``"duty"``."""

Platform = NewType("Platform", str)
"""A chat platform, e.g. ``"console"``, ``"matrix"``, ``"slack"``."""

IncidentNumber = NewType("IncidentNumber", str)
"""An incident, e.g. ``"WIS-SEC-2026-7"``."""
