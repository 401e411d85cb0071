"""Change management (Annex 1 §4.4): the six steps as a state machine.

1. request for change (what, why, who, when, how, risk, impact, cost) → ``requested``;
2. filter and assess: accepted with a priority, or rejected with a reason; the risk is
   assessed (``risk_level``);
3. authorise at a CAB meeting: ``authorised`` or ``refused`` (a deferral keeps it
   ``accepted`` for the next meeting). Never without a risk assessment;
4. test → ``tested``;
5. implement → ``implemented``;
6. review and close → ``closed``.

``rejected``, ``refused`` and ``closed`` are final. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from wisbot.errors import InvalidState, UsageError

FIELDS = ("what", "why", "who", "when", "how", "risk", "impact", "cost")
"""What a request for change carries (Annex 1 §4.4 step 1)."""
PRIORITIES = ("urgent", "high", "medium", "low")
RISK_LEVELS = ("low", "medium", "high")
DECISIONS = ("authorise", "refuse", "defer")


class State(Enum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    AUTHORISED = "authorised"
    REFUSED = "refused"
    TESTED = "tested"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"

    @property
    def step(self) -> int:
        """The step of Annex 1 §4.4 the change has reached (1–6)."""
        return {"requested": 1, "accepted": 2, "rejected": 2, "authorised": 3,
                "refused": 3, "tested": 4, "implemented": 5, "closed": 6}[self.value]

    @property
    def final(self) -> bool:
        return self in (State.REJECTED, State.REFUSED, State.CLOSED)


OPEN = tuple(s.value for s in State if not s.final)

# action -> (states it may start from, state it leads to; None: stays)
TRANSITIONS: dict[str, tuple[tuple[State, ...], State | None]] = {
    "accept": ((State.REQUESTED,), State.ACCEPTED),
    "reject": ((State.REQUESTED,), State.REJECTED),
    "assess": ((State.REQUESTED, State.ACCEPTED), None),
    "authorise": ((State.ACCEPTED,), State.AUTHORISED),
    "refuse": ((State.ACCEPTED,), State.REFUSED),
    "defer": ((State.ACCEPTED,), None),
    "tested": ((State.AUTHORISED,), State.TESTED),
    "implemented": ((State.TESTED,), State.IMPLEMENTED),
    "close": ((State.IMPLEMENTED,), State.CLOSED),
}

NEXT_STEP = {
    State.REQUESTED: "filter and assess: `change accept <change> priority=… risk=…` or "
                     "`change reject <change> <reason>`",
    State.ACCEPTED: "a CAB meeting decides: `change decide <change> authorise|refuse|defer`",
    State.AUTHORISED: "test it, then `change tested <change> <result>`",
    State.TESTED: "implement it, then `change implemented <change> [note]`",
    State.IMPLEMENTED: "review it, then `change close <change> <review>`",
}


@dataclass(frozen=True)
class Facts:
    """What the state machine needs to know of a change."""

    state: State
    risk_level: str | None
    priority: str | None


def transition(facts: Facts, action: str) -> State:
    """The state ``action`` leads to; :class:`InvalidState` with the reason otherwise."""
    if action not in TRANSITIONS:
        raise UsageError(f"unknown change action {action!r}")
    sources, target = TRANSITIONS[action]
    if facts.state not in sources:
        allowed = " or ".join(s.value for s in sources)
        hint = NEXT_STEP.get(facts.state)
        raise InvalidState(
            f"a change that is {facts.state.value} cannot be {_past(action)} (only one that "
            f"is {allowed})" + (f"; next: {hint}" if hint else "; it is final"))
    if action == "authorise" and facts.risk_level is None:
        raise InvalidState("this change has no risk assessment, so the CAB cannot authorise "
                           "it: assess it first (`change assess <change> risk=low|medium|high "
                           "<assessment>`), or defer it")
    if action == "authorise" and facts.priority is None:
        raise InvalidState("this change has no priority: accept it with one first")
    return target or facts.state


def _past(action: str) -> str:
    return {"accept": "accepted", "reject": "rejected", "assess": "assessed",
            "authorise": "authorised", "refuse": "refused", "defer": "deferred",
            "tested": "marked tested", "implemented": "marked implemented",
            "close": "closed"}[action]


def priority_rank(priority: str | None) -> int:
    """Agenda order: urgent first, unprioritised last."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


_NUMBER_RE = re.compile(r"^CHG-(\d{4})-(\d+)$", re.IGNORECASE)


def change_number(year: int, seq: int) -> str:
    return f"CHG-{year}-{seq}"


def parse_change_number(text: str) -> str:
    match = _NUMBER_RE.match(text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a change number: they look like CHG-2026-1")
    return f"CHG-{match.group(1)}-{int(match.group(2))}"


def looks_like_change(text: str) -> bool:
    return _NUMBER_RE.match(text.strip()) is not None
