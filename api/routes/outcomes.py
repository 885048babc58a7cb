"""Closing the loop: rejection reasons, outcomes, the predictive model and its reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import (
    AdminDep,
    MarketerDep,
    PrincipalDep,
    SalesOrMarketerDep,
    SessionDep,
    TemporalDep,
    dispatch,
)
from leadflow.api.routes.leads import check_lead_access, read_csv_upload
from leadflow.api.routes.reports import _moment
from leadflow.api.schemas.outcomes import OutcomeImportReport, OutcomePublic, OutcomeRecorded
from leadflow.api.schemas.reports import (
    CSV_RESPONSE,
    ExperimentReport,
    FunnelTrend,
    RejectionReport,
    SourcesReport,
)
from leadflow.api.schemas.scoring import (
    PredictiveModelPublic,
    PredictiveRun,
    ScoringSuggestions,
)
from leadflow.errors import BadRequest, Invalid
from leadflow.models import utcnow
from leadflow.sales.outcomes import (
    OutcomeIn,
    RejectionReasonIn,
    list_rejection_reasons,
    replace_rejection_reasons,
)
from leadflow.sales.value_reports import (
    EXPERIMENT_COLUMNS,
    SOURCE_COLUMNS,
    TREND_COLUMNS,
    experiment_report,
    experiment_rows,
    funnel_trend,
    rejection_report,
    rejection_rows,
    source_value,
    table_csv,
)
from leadflow.scoring.predictive import MIN_PER_CLASS, list_runs
from leadflow.usecases import sales_actions, scoring

router = APIRouter(prefix="/api", tags=["outcomes"], strict_content_type=False)


# ---------------------------------------------------------------- rejection reasons


@router.get("/settings/rejection-reasons", response_model=list[RejectionReasonIn])
def get_rejection_reasons(session: SessionDep, _: PrincipalDep) -> list[dict[str, Any]]:
    """The reasons a rep picks from when sending a lead back (every role may read them)."""
    return list_rejection_reasons(session)


ReasonsBody = Annotated[list[dict[str, Any]], Body(
    description="the whole list, in the order reps see it",
    examples=[[{"id": "not-a-fit", "label": "Not a fit", "outcome": "negative"}]])]


@router.put("/settings/rejection-reasons", response_model=list[RejectionReasonIn])
def put_rejection_reasons(session: SessionDep, _: AdminDep,
                          body: ReasonsBody) -> list[dict[str, Any]]:
    """Replace the list. `outcome`: `negative` (a negative label for the predictive model),
    `recycle` (enrol in `recycle_flow` after `cooldown`), `exclude` (left out of training).
    Reasons left out are retired; past rejections keep theirs."""
    return replace_rejection_reasons(session, body)


# ---------------------------------------------------------------- outcomes


@router.post("/leads/{lead_id}/outcome", status_code=201, response_model=OutcomeRecorded)
async def post_outcome(lead_id: str, body: OutcomeIn, request: Request,
                       principal: SalesOrMarketerDep, client: TemporalDep) -> dict[str, Any]:
    """Record an outcome: `won` makes the lead a customer, `opportunity` an opportunity (where
    the lifecycle allows); `lost` keeps its stage. A sales key may record its own leads only."""
    out, plan = sales_actions.record_lead_outcome(
        request.app.state.db_url, lead_id, body, principal=principal,
        check_access=check_lead_access)
    await dispatch(request, plan, client)
    return out


@router.get("/leads/{lead_id}/outcomes", response_model=list[OutcomePublic])
def get_outcomes(lead_id: str, request: Request,
                 principal: SalesOrMarketerDep) -> list[dict[str, Any]]:
    """The lead's outcomes, oldest first."""
    return sales_actions.lead_outcome_list(request.app.state.db_url, lead_id, viewer=principal)


@router.post("/outcomes/import", response_model=OutcomeImportReport)
async def import_outcomes(request: Request, principal: MarketerDep,
                          client: TemporalDep) -> dict[str, Any]:
    """CSV (multipart field `file`, or a `text/csv` body) with a header: `email` or `lead_id`,
    `outcome` (won, lost, opportunity), and optional `amount`, `currency`, `at`. Reports
    recorded and rejected rows with reasons."""
    content = await read_csv_upload(request)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The CSV must be UTF-8 text.") from exc
    report, plan = sales_actions.import_outcomes(request.app.state.db_url, text,
                                                 actor=f"api:{principal.role}")
    await dispatch(request, plan, client)
    return report


# ---------------------------------------------------------------- predictive scoring


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_per_class: int = Field(MIN_PER_CLASS, ge=50, le=1_000_000,
                               description="labels of each class needed to train (default 200)")


@router.post("/scoring/predictive/train", response_model=PredictiveRun)
def train_predictive(request: Request, _: MarketerDep,
                     body: TrainRequest | None = None) -> dict[str, Any]:
    """Fit a calibrated model on the outcomes so far, compare it with the points score on the
    latest quarter of MQLs, and promote it only when it beats the points score and is
    calibrated. The run is kept either way, with `why`."""
    return scoring.train_predictive(request.app.state.db_url,
                                    min_per_class=(body or TrainRequest()).min_per_class)


@router.get("/scoring/predictive", response_model=PredictiveModelPublic,
            response_model_exclude_unset=True)
def get_predictive(request: Request, _: MarketerDep) -> dict[str, Any]:
    """The active model: its metrics beside the points score's, and its features' weights."""
    return scoring.predictive_model(request.app.state.db_url)


@router.get("/scoring/predictive/runs", response_model=list[PredictiveRun])
def predictive_runs(session: SessionDep, _: MarketerDep,
                    limit: int = Query(20, ge=1, le=200)) -> list[dict[str, Any]]:
    """Recent training runs, newest first, promoted or not, each with why."""
    return list_runs(session, limit=limit)


@router.get("/scoring/predictive/suggestions", response_model=ScoringSuggestions)
def predictive_suggestions(request: Request, _: MarketerDep) -> dict[str, Any]:
    """Scoring rules whose points the outcomes disagree with, each in a sentence."""
    return scoring.predictive_suggestions(request.app.state.db_url)


# ---------------------------------------------------------------- reports


def _period(from_: str | None, to: str | None, default: timedelta | None
            ) -> tuple[datetime | None, datetime | None]:
    end = _moment(to, "to")
    start = _moment(from_, "from")
    if default is not None:
        end = end or utcnow()
        start = start or end - default
    if start and end and start >= end:
        message = "The period must start before it ends: from must be earlier than to."
        raise Invalid(message, problems=[{"path": "from", "message": message}])
    return start, end


def _csv(name: str, text: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


FromQ = Query(None, alias="from", description="start (date or time, UTC)")
ToQ = Query(None, description="end, excluded")


@router.get("/reports/sources", response_model=SourcesReport, responses=CSV_RESPONSE)
def report_sources(session: SessionDep, _: MarketerDep, from_: str | None = FromQ,
                   to: str | None = ToQ, format: Literal["json", "csv"] = "json"
                   ) -> dict[str, Any] | Response:
    """Per source, the leads created in the period (all time by default): MQLs, SALs, SQLs,
    opportunities, won, revenue and revenue per lead, the most valuable source first."""
    start, end = _period(from_, to, None)
    report = source_value(session, start=start, end=end)
    if format == "csv":
        return _csv("sources", table_csv(report["sources"], SOURCE_COLUMNS))
    return report


@router.get("/reports/rejections", response_model=RejectionReport, responses=CSV_RESPONSE)
def report_rejections(session: SessionDep, _: MarketerDep, from_: str | None = FromQ,
                      to: str | None = ToQ, format: Literal["json", "csv"] = "json"
                      ) -> dict[str, Any] | Response:
    """Rejected handoffs by reason, and each reason by source and by flow (all time by
    default)."""
    start, end = _period(from_, to, None)
    report = rejection_report(session, start=start, end=end)
    if format == "csv":
        return _csv("rejections", table_csv(rejection_rows(report),
                                            ("dimension", "value", "reason", "count")))
    return report


@router.get("/reports/experiments", response_model=ExperimentReport, responses=CSV_RESPONSE)
def report_experiments(session: SessionDep, _: MarketerDep, flow_id: str | None = None,
                       metric: Literal["conversion", "click", "mql", "won"] = "conversion",
                       format: Literal["json", "csv"] = "json") -> dict[str, Any] | Response:
    """Per `split` step: each arm's leads, engagement, conversions (the flow's goal), MQLs and
    wins, and whether the arms differ significantly on `metric` (p < 0.05)."""
    report = experiment_report(session, flow_id=flow_id, metric=metric)
    if format == "csv":
        return _csv("experiments", table_csv(experiment_rows(report), EXPERIMENT_COLUMNS))
    return report


@router.get("/reports/funnel/trend", response_model=FunnelTrend, responses=CSV_RESPONSE)
def report_funnel_trend(session: SessionDep, _: MarketerDep, from_: str | None = FromQ,
                        to: str | None = ToQ, period: Literal["week", "month"] = "week",
                        format: Literal["json", "csv"] = "json") -> dict[str, Any] | Response:
    """MQL→SAL and SAL→SQL ratios per week or month (the last 12 weeks by default)."""
    start, end = _period(from_, to, timedelta(weeks=12))
    assert start is not None and end is not None
    if (end - start).days > 3660:
        raise Invalid("Ask for ten years at most.",
                      problems=[{"path": "from", "message": "Ask for ten years at most."}])
    report = funnel_trend(session, start=start, end=end, period=period)
    if format == "csv":
        return _csv("funnel-trend", table_csv(report["periods"], TREND_COLUMNS))
    return report
