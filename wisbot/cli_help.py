"""How ``--help`` names parameters: flags carry no ``<bool>`` type, arguments read
``FILE`` (required) or ``[TARGET]`` (optional), as in every other Unix tool's usage line.

Typer offers no setting for either, so its two display methods are replaced once, here.
"""

from __future__ import annotations

from typing import Any

from typer import core


def _option_type(self: Any, ctx: Any) -> str | None:
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None  # a flag takes no value: a type only suggests one
    return _option_type_orig(self, ctx)


def _argument_usage(self: Any) -> str:
    name = str(self.metavar or self.name or "").upper()
    if not self.required:
        name = f"[{name}]"
    if self.nargs != 1:
        name += "..."
    return name


_option_type_orig = core.TyperOption.display_type_rich


def install() -> None:
    core.TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
