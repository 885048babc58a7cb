"""Lifecycle stages of a lead and the moves allowed between them.

The funnel, in order::

    subscriber → lead → MQL → SAL → SQL → opportunity → customer

and beside it ``recycled`` (not ready now, back to nurture) and ``disqualified`` (never a fit).

Allowed transitions (anything not listed is refused with ``Conflict``):

=============== =====================================================================
from            to
=============== =====================================================================
subscriber      any later funnel stage, recycled, disqualified
lead            any later funnel stage, recycled, disqualified
MQL             any later funnel stage, recycled, disqualified
SAL             any later funnel stage, recycled, disqualified
SQL             any later funnel stage, recycled, disqualified
opportunity     customer, recycled, disqualified
customer        — (terminal: a customer is the CRM's business from here on)
recycled        lead, MQL, SAL, SQL, opportunity, customer, disqualified
disqualified    recycled (a person re-opens the lead; it then moves forward from there)
=============== =====================================================================

Forward moves may skip stages (sales can qualify a lead straight to SQL). Nothing moves
backwards inside the funnel: a lead that is not ready goes to ``recycled`` and earns its way
forward again. Staying in the same stage is not a transition.

``stage_at_least`` ranks the side stages like ``lead``: a recycled or disqualified lead is still
a known lead, but it has lost whatever qualification it had, so ``stage_at_least("recycled",
"MQL")`` is false. That keeps ``exit_when: {"stage_at_least": "SQL"}`` from firing for a lead
that sales threw back. A side stage used as the threshold matches only itself.
"""

from __future__ import annotations

from leadflow.errors import Conflict, Invalid
from leadflow.models import SIDE_STAGES as _SIDE_STAGES
from leadflow.models import STAGES as _FUNNEL_STAGES

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ALL_STAGES",
    "SIDE_STAGES",
    "STAGES",
    "can_transition",
    "check_transition",
    "stage_at_least",
    "stage_rank",
]

STAGES: tuple[str, ...] = tuple(_FUNNEL_STAGES)
"""The funnel stages, earliest first."""

SIDE_STAGES: tuple[str, ...] = tuple(_SIDE_STAGES)
"""Stages beside the funnel: ``recycled`` and ``disqualified``."""

ALL_STAGES: tuple[str, ...] = STAGES + SIDE_STAGES

_RANK = {stage: i for i, stage in enumerate(STAGES)}
_RANK.update({side: _RANK["lead"] for side in SIDE_STAGES})


def _build_transitions() -> dict[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for i, stage in enumerate(STAGES):
        later = set(STAGES[i + 1 :])
        table[stage] = frozenset(later | set(SIDE_STAGES)) if stage != "customer" else frozenset()
    table["recycled"] = frozenset(set(STAGES[STAGES.index("lead") :]) | {"disqualified"})
    table["disqualified"] = frozenset({"recycled"})
    return table


ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = _build_transitions()
"""Stage → the stages a lead may move to from it (see the module docstring)."""


def stage_rank(stage: str) -> int:
    """Position in the funnel (``subscriber`` is 0); side stages rank like ``lead``.

    Raises:
        Invalid: for a name that is not a stage.
    """
    try:
        return _RANK[stage]
    except KeyError:
        raise _unknown(stage, "stage") from None


def can_transition(from_stage: str | None, to_stage: str) -> bool:
    """Whether a lead in ``from_stage`` may move to ``to_stage``.

    ``from_stage=None`` is a lead that has no stage yet: it may start anywhere. Unknown names and
    staying put are not transitions.
    """
    if to_stage not in ALLOWED_TRANSITIONS:
        return False
    if from_stage is None:
        return True
    return to_stage in ALLOWED_TRANSITIONS.get(from_stage, frozenset())


def stage_at_least(stage: str, threshold: str) -> bool:
    """Whether ``stage`` has reached ``threshold`` in the funnel.

    Side stages count as ``lead`` (see the module docstring); a side-stage threshold matches
    only that same stage.
    """
    if threshold in SIDE_STAGES:
        return stage == threshold
    return stage_rank(stage) >= stage_rank(threshold)


def check_transition(from_stage: str | None, to_stage: str) -> None:
    """Refuse a move that is not allowed.

    Raises:
        Invalid: ``to_stage`` (or ``from_stage``) is not a stage at all.
        Conflict: the move is not allowed from the current stage (a sentence says what is).
    """
    if to_stage not in ALLOWED_TRANSITIONS:
        raise _unknown(to_stage, "stage")
    if from_stage is not None and from_stage not in ALLOWED_TRANSITIONS:
        raise _unknown(from_stage, "from_stage")
    if can_transition(from_stage, to_stage):
        return
    if from_stage == to_stage:
        raise Conflict(f"The lead is already at stage {to_stage}.")
    allowed = [s for s in ALL_STAGES if s in ALLOWED_TRANSITIONS[from_stage or ""]]
    if not allowed:
        raise Conflict(f"A lead at stage {from_stage} cannot change stage any more.")
    why = (
        " Leads never move back inside the funnel; move it to recycled instead."
        if from_stage in _RANK and to_stage in STAGES and _RANK[to_stage] < _RANK[from_stage]
        else ""
    )
    raise Conflict(
        f"A lead cannot move from {from_stage} to {to_stage}.{why} "
        f"From {from_stage} it can move to {', '.join(allowed)}."
    )


def _unknown(name: str, path: str) -> Invalid:
    message = f"{name!r} is not a lifecycle stage; use one of {', '.join(ALL_STAGES)}."
    return Invalid(message, problems=[{"path": path, "message": message}])
