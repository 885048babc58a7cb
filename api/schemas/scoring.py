"""The scoring model and the predictive model (``api/routes/scoring.py``, ``outcomes.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema
from typing_extensions import TypedDict

from leadflow.api.bodies import schema_ref
from leadflow.scoring.model import ScoringModelDoc

__all__ = ["PredictiveFeature", "PredictiveLabels", "PredictiveMetrics", "PredictiveModelPublic",
           "PredictiveRun", "RescoreJob", "ScoringModelPublic", "ScoringModelSaved",
           "ScoringSuggestion", "ScoringSuggestions", "ScoringVersion"]

Number = int | float
# The stored document is sent back as it was saved (not re-serialised through the model, which
# would add its defaults); the schema says what it holds. (allOf: pydantic resolves a bare $ref
# among its own definitions, and this one is added to the document afterwards.)
StoredScoringDoc = Annotated[dict[str, Any],
                             WithJsonSchema({"allOf": [schema_ref(ScoringModelDoc)]})]


class ScoringModelPublic(BaseModel):
    """The scoring model in force."""

    version: int = Field(description="0 is the built-in model")
    model: StoredScoringDoc
    created_at: str | None = Field(description="date-time; null for the built-in model")
    default: bool = Field(description="whether this is the built-in model")


class RescoreJob(BaseModel):
    """The background job re-scoring every lead."""

    workflow_id: str


class ScoringModelSaved(ScoringModelPublic):
    """The new version, and the job re-scoring every lead with it."""

    rescore: RescoreJob


class ScoringVersion(BaseModel):
    """One saved version of the scoring model."""

    version: int
    created_at: str | None
    current: bool = Field(description="the version in force")
    model: StoredScoringDoc


class PredictiveMetrics(TypedDict, total=False):
    """Held-out figures of a training run, the model's beside the points score's (empty when
    the run was refused)."""

    auc: float
    average_precision: float
    brier: float
    calibration_slope: float
    lift_top_decile: float
    baseline_auc: float
    baseline_average_precision: float
    baseline_brier: float
    baseline_calibration_slope: float
    baseline_lift_top_decile: float
    train_leads: int
    test_leads: int
    split_at: str
    seconds: Number


class PredictiveLabels(TypedDict, total=False):
    """The outcomes the run learnt from."""

    positives: int
    negatives: int
    min_per_class: int


class PredictiveFeature(BaseModel):
    """One feature's weight, in words."""

    feature: str
    label: str
    weight: Number


class PredictiveRun(BaseModel):
    """A training run of the predictive model, promoted or not."""

    id: int
    status: Literal["trained", "refused"]
    promoted: bool
    active: bool
    why: str = Field(description="what was decided, on which figures")
    metrics: PredictiveMetrics
    labels: PredictiveLabels
    created_at: str


class PredictiveModelPublic(PredictiveRun):
    """The active predictive model with its features' weights, largest first."""

    features: list[PredictiveFeature] | None = Field(
        None, description="absent for a model without weights")


class ScoringSuggestion(BaseModel):
    """A rule whose points the outcomes disagree with."""

    kind: Literal["fit", "behavior", "unscored"]
    rule: str
    points: Number
    matched: int
    conversion_with: Number
    conversion_without: Number
    lift: Number | None
    verdict: Literal["overrated", "underrated", "no_effect", "unscored"]
    more_than: int | None
    sentence: str


class ScoringSuggestions(BaseModel):
    """``GET /api/scoring/predictive/suggestions``."""

    labeled: int = Field(description="MQLs with an outcome")
    suggestions: list[ScoringSuggestion]
    why: str | None = Field(description="why there are none, when there are too few outcomes")
