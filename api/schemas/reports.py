"""Marketing reports: the funnel, value per source, rejections, experiments, the trend
(``api/routes/reports.py``, ``outcomes.py``). Each also comes as CSV with ``format=csv``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from leadflow.sales.outcomes import ReasonOutcome

__all__ = ["CSV_RESPONSE", "ExperimentArm", "ExperimentReport", "FunnelReport", "FunnelSource",
           "FunnelStage", "FunnelTrend", "RejectionByFlow", "RejectionBySource", "RejectionGroup", "RejectionReasonCount",
           "RejectionReport", "SourceValue", "SourcesReport", "SplitExperiment", "TrendPeriod"]

Number = int | float
Ratio = Number | None

CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                      "description": "JSON, or with `format=csv` a CSV file"}}


class FunnelStage(BaseModel):
    """Leads entering a stage in the period, and how many went further."""

    stage: str
    entered: int
    converted: int | None = Field(description="null for the last and the side stages")
    conversion: Ratio
    median_hours_in_stage: Number | None


class FunnelSource(BaseModel):
    """Leads created in the period from one source, and how far they got."""

    model_config = ConfigDict(populate_by_name=True)

    source: str | None
    leads: int
    MQL: int
    SQL: int
    customer: int


class FunnelReport(BaseModel):
    """``GET /api/reports/funnel``: the period is ``[start, end)``."""

    start: str
    end: str
    source: str | None = Field(description="the source asked for, if any")
    stages: list[FunnelStage]
    mql_to_sal: Ratio
    sources: list[FunnelSource]


class SourceValue(BaseModel):
    """What the leads of one source became (``(none)``: leads without a source)."""

    source: str
    leads: int
    MQL: int
    SAL: int
    SQL: int
    opportunities: int
    won: int
    lost: int
    revenue: Number
    revenue_by_currency: dict[str, Number]
    revenue_per_lead: Number
    mql_rate: Ratio
    win_rate: Ratio


class SourcesReport(BaseModel):
    """``GET /api/reports/sources``, the most valuable source first."""

    start: str | None
    end: str | None
    currency: str | None = Field(description="the most frequent currency of the revenue")
    mixed_currencies: bool
    sources: list[SourceValue]


class RejectionReasonCount(BaseModel):
    """Handoffs rejected for one reason."""

    id: str
    label: str
    outcome: ReasonOutcome | None
    count: int
    share: Ratio


class RejectionGroup(BaseModel):
    """Rejections of one source or one flow, by reason id."""

    total: int
    reasons: dict[str, int]


class RejectionBySource(RejectionGroup):
    """One source's rejections."""

    source: str


class RejectionByFlow(RejectionGroup):
    """One flow's rejections."""

    flow_id: str
    flow_name: str


class RejectionReport(BaseModel):
    """``GET /api/reports/rejections``."""

    start: str | None
    end: str | None
    total: int
    reasons: list[RejectionReasonCount]
    by_source: list[RejectionBySource]
    by_flow: list[RejectionByFlow]


class ExperimentArm(BaseModel):
    """One arm of a split step."""

    arm: str = Field(description="the step the arm leads to")
    weight: Number | None
    leads: int
    emails_sent: int
    opened: int
    clicked: int
    conversions: int
    mql: int
    won: int
    rate: Ratio = Field(description="of the metric asked for")
    open_rate: Ratio
    click_rate: Ratio
    conversion_rate: Ratio


class SplitExperiment(BaseModel):
    """A split step and whether its arms differ."""

    flow_id: str
    flow_name: str
    step: str
    arms: list[ExperimentArm]
    p_value: Number | None
    test: Literal["chi_square", "fisher_exact", "none"]
    significant: bool
    winner: str | None
    sentence: str


class ExperimentReport(BaseModel):
    """``GET /api/reports/experiments``."""

    metric: Literal["conversion", "click", "mql", "won"]
    experiments: list[SplitExperiment]


class TrendPeriod(BaseModel):
    """One week or month."""

    start: str = Field(description="date")
    mql: int
    mql_to_sal: int
    sal: int
    sal_to_sql: int
    mql_to_sal_ratio: Ratio
    sal_to_sql_ratio: Ratio


class FunnelTrend(BaseModel):
    """``GET /api/reports/funnel/trend``."""

    period: Literal["week", "month"]
    start: str
    end: str
    periods: list[TrendPeriod]
