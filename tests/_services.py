"""Skip-or-fail helpers for tests that need a real service.

On a developer's fresh machine a missing service skips with its reason; under
``WISBOT_REQUIRE_SERVICES=1`` (set by ``.ci/run``) the same absence fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def services_required() -> bool:
    return os.environ.get("WISBOT_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip (or fail, when services are required) with ``reason``."""
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_tcp(host: str, port: int, what: str) -> None:
    if not tcp_open(host, port):
        missing(f"{what} is not reachable on {host}:{port}")


def require_binary(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{what}: `{name}` is not on PATH")
        raise AssertionError("unreachable")
    return path
