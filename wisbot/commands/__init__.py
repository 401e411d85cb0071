"""Commands: each module declares its own; :func:`build_registry` lists them explicitly."""

from __future__ import annotations

from wisbot.commands import (
    ack,
    audits,
    centres,
    change,
    escalate,
    exchange,
    incident,
    indicators,
    kedb,
    language,
    lessons,
    models,
    service_report,
    severity,
    status,
    watch,
    web,
    wmem,
)
from wisbot.commands.registry import Registry


def build_registry() -> Registry:
    reg = Registry()
    incident.register(reg)
    severity.register(reg)
    lessons.register(reg)
    kedb.register(reg)
    models.register(reg)
    indicators.register(reg)
    service_report.register(reg)
    centres.register(reg)
    ack.register(reg)
    escalate.register(reg)
    exchange.register(reg)
    watch.register(reg)
    wmem.register(reg)
    change.register(reg)
    status.register(reg)
    language.register(reg)
    audits.register(reg)
    web.register(reg)
    return reg
