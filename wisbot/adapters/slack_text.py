"""The text a person typed, from a Slack message event's formatted ``text``.

Slack sends links, e-mail addresses and bare domains as ``<target|label>`` (the label is
what was typed) or ``<target>``, and ``&``, ``<``, ``>`` as entities
(https://api.slack.com/reference/surfaces/formatting#retrieving-messages). Mentions
(``<@U…>``, ``<#C…|name>``, ``<!here>``) are left as Slack wrote them: no command word is
one.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"<(?P<target>(?:https?|mailto|ftp):[^<>|]*)(?:\|(?P<label>[^<>]*))?>")


def typed_text(text: str) -> str:
    """``text`` as the person typed it: links unwrapped to their label (or target, without
    a ``mailto:``), entities decoded (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    def link(m: re.Match[str]) -> str:
        label = m.group("label")
        if label:
            return label
        target = m.group("target")
        return target.removeprefix("mailto:")

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
