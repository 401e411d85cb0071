"""Commands: each module declares its own; :func:`build_registry` lists them explicitly."""

from __future__ import annotations

from wisbot.commands import incident, lessons, severity, watch
from wisbot.commands.registry import Registry


def build_registry() -> Registry:
    reg = Registry()
    incident.register(reg)
    severity.register(reg)
    lessons.register(reg)
    watch.register(reg)
    return reg
