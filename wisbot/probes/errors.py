"""Probe errors.

Exception tree::

    ProbeError              a finding: the service failed in a way a duty operator can act on
    ├── ResponseTooLarge    body (or declared Content-Length) past ProbeLimits.max_bytes
    └── UnsafeXML           a DTD / entity declaration (XXE, billion laughs) or XML too deep

Every other exception escaping a probe is turned into a FAIL by ``base.probe`` as well; these
exist so that the reason text is the probe's own, not a library's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ProbeError(Exception):
    """A failure finding; ``str(exc)`` is the reason shown to the duty operator."""

    def __init__(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details: Mapping[str, Any] = dict(details or {})


class ResponseTooLarge(ProbeError):
    pass


class UnsafeXML(ProbeError):
    pass
