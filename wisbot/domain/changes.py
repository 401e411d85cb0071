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
from wisbot.i18n import N_, Lazy
from wisbot.i18n import _ as _t

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
    State.REQUESTED: N_("filter and assess: `change accept <change> priority=… risk=…` or "
                        "`change reject <change> <reason>`"),
    State.ACCEPTED: N_("a CAB meeting decides: `change decide <change> "
                       "authorise|refuse|defer`"),
    State.AUTHORISED: N_("test it, then `change tested <change> <result>`"),
    State.TESTED: N_("implement it, then `change implemented <change> [note]`"),
    State.IMPLEMENTED: N_("review it, then `change close <change> <review>`"),
}

# A state and a timeline step as the reader reads them (the stored values stay English:
# `change list open|all` and the database use them). Priorities and risk levels are not
# translated: they are what `priority=` and `risk=` take.
STATE_WORDS: dict[str, Lazy] = {
    "requested": N_("requested"), "accepted": N_("accepted"), "rejected": N_("rejected"),
    "authorised": N_("authorised"), "refused": N_("refused"), "tested": N_("tested"),
    "implemented": N_("implemented"), "closed": N_("closed"),
}
STEP_WORDS: dict[str, Lazy] = {
    **STATE_WORDS, "assessed": N_("assessed"), "deferred": N_("deferred"),
    "on agenda": N_("on the agenda"),
}


def state_words(state: str) -> str:
    """A state (``accepted``) in the current language."""
    word = STATE_WORDS.get(state)
    return str(word) if word is not None else state


def step_words(kind: str) -> str:
    """A timeline step's kind (``assessed``, ``on agenda``) in the current language."""
    word = STEP_WORDS.get(kind)
    return str(word) if word is not None else kind


@dataclass(frozen=True)
class Facts:
    """What the state machine needs to know of a change."""

    state: State
    risk_level: str | None
    priority: str | None


def transition(facts: Facts, action: str) -> State:
    """The state ``action`` leads to; :class:`InvalidState` with the reason otherwise."""
    if action not in TRANSITIONS:
        raise UsageError(_t("unknown change action {action}", action=repr(action)))
    sources, target = TRANSITIONS[action]
    if facts.state not in sources:
        allowed = _t(" or ").join(state_words(s.value) for s in sources)
        hint = NEXT_STEP.get(facts.state)
        problem = _t("a change that is {state} cannot be {done} (only one that is {allowed})",
                     state=state_words(facts.state.value), done=_past(action),
                     allowed=allowed)
        raise InvalidState(problem + (_t("; next: {hint}", hint=str(hint)) if hint
                                      else _t("; it is final")))
    if action == "authorise" and facts.risk_level is None:
        raise InvalidState(_t("this change has no risk assessment, so the CAB cannot "
                              "authorise it: assess it first (`change assess <change> "
                              "risk=low|medium|high <assessment>`), or defer it"))
    if action == "authorise" and facts.priority is None:
        raise InvalidState(_t("this change has no priority: accept it with one first"))
    return target or facts.state


PAST: dict[str, Lazy] = {
    "accept": N_("accepted"), "reject": N_("rejected"), "assess": N_("assessed"),
    "authorise": N_("authorised"), "refuse": N_("refused"), "defer": N_("deferred"),
    "tested": N_("marked tested"), "implemented": N_("marked implemented"),
    "close": N_("closed"),
}


def _past(action: str) -> str:
    return str(PAST[action])


def priority_rank(priority: str | None) -> int:
    """Agenda order: urgent first, unprioritised last."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


_NUMBER_RE = re.compile(r"^CHG-(\d{4})-(\d+)$", re.IGNORECASE)


def change_number(year: int, seq: int) -> str:
    return f"CHG-{year}-{seq}"


def parse_change_number(text: str) -> str:
    match = _NUMBER_RE.match(text.strip())
    if match is None:
        raise UsageError(_t("{given} is not a change number: they look like CHG-2026-1",
                            given=repr(text)))
    return f"CHG-{match.group(1)}-{int(match.group(2))}"


def looks_like_change(text: str) -> bool:
    return _NUMBER_RE.match(text.strip()) is not None
