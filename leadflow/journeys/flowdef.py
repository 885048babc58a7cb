"""The nurture-flow format (shared/spec/flow-format.md) as Pydantic models.

These models document the format and produce the published JSON Schema (``flow_json_schema``)
that editors use for autocompletion. Validation with marketer-friendly messages lives in
:mod:`leadflow.journeys.validate`; the interpreter (:mod:`leadflow.journeys.engine`) reads validated documents
as plain dicts, so a document round-trips byte-for-byte through the API and the editor.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STEP_FIELDS", "STEP_TYPES", "WAITING_STEP_TYPES", "FlowDocument", "flow_json_schema"]

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Duration = Annotated[str, Field(pattern=r"^P", description="ISO 8601 duration: PT30M, PT4H, P2D")]
Condition = Annotated[dict[str, Any], Field(description="A condition (see the Conditions section)")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(_Strict):
    event: str = Field(description="An event type (form.submitted, ...) or lead.created")
    where: Condition | None = None
    reentry: str = Field("never", description="never, after_exit, or an ISO 8601 duration")


class SendWindow(_Strict):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    from_: str = Field(alias="from", pattern=r"^\d\d:\d\d$")
    to: str = Field(pattern=r"^\d\d:\d\d$")
    timezone: str | None = None


class EmailStep(_Strict):
    type: Literal["email"]
    template: str
    subject: str | None = None
    next: Slug


class WaitStep(_Strict):
    type: Literal["wait"]
    duration: Duration
    next: Slug


class WaitForStep(_Strict):
    type: Literal["wait_for"]
    event: str
    where: Condition | None = None
    from_step: Slug | None = None
    timeout: Duration
    next: Slug
    on_timeout: Slug | None = None


class BranchCase(_Strict):
    when: Condition
    next: Slug


class BranchStep(_Strict):
    type: Literal["branch"]
    on: Literal["temperature"] | None = None
    hot: Slug | None = None
    warm: Slug | None = None
    cold: Slug | None = None
    cases: list[BranchCase] | None = None
    else_: Slug | None = Field(None, alias="else")


class SplitPath(_Strict):
    weight: float = Field(gt=0)
    next: Slug


class SplitStep(_Strict):
    type: Literal["split"]
    paths: list[SplitPath]


class UpdateStep(_Strict):
    type: Literal["update"]
    set: dict[str, Any] | None = None
    add_score: float | None = None
    add_tags: list[str] | None = None
    stage: str | None = None
    next: Slug


class HandoffStep(_Strict):
    type: Literal["handoff"]
    team: str | None = None
    rep: str | None = None
    sla: Duration
    next: Slug
    on_rejected: Slug | None = None


class NotifyStep(_Strict):
    type: Literal["notify"]
    channel: Literal["email", "slack", "webhook"]
    to: str
    message: str
    next: Slug


class ExitStep(_Strict):
    type: Literal["exit"]


Step = Annotated[
    EmailStep | WaitStep | WaitForStep | BranchStep | SplitStep | UpdateStep | HandoffStep
    | NotifyStep | ExitStep,
    Field(discriminator="type"),
]


class FlowDocument(_Strict):
    """One nurture flow."""

    id: Slug
    name: str
    description: str | None = None
    entry: Entry | None = None
    exit_when: Condition | None = None
    send_window: SendWindow | None = None
    start: Slug
    steps: dict[str, Step]


STEP_TYPES: dict[str, type[BaseModel]] = {
    "email": EmailStep,
    "wait": WaitStep,
    "wait_for": WaitForStep,
    "branch": BranchStep,
    "split": SplitStep,
    "update": UpdateStep,
    "handoff": HandoffStep,
    "notify": NotifyStep,
    "exit": ExitStep,
}

# The JSON keys each step type allows (aliases, not Python names).
STEP_FIELDS: dict[str, set[str]] = {
    name: {f.alias or key for key, f in model.model_fields.items()}
    for name, model in STEP_TYPES.items()
}

# Steps that stop the journey until time passes or someone acts: a loop through one is not hot.
WAITING_STEP_TYPES = frozenset({"wait", "wait_for", "handoff"})


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of the flow format, for editors' autocompletion."""
    schema = FlowDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Leadflow nurture flow"
    return schema
