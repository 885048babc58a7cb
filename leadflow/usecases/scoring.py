"""The scoring model and the predictive model as the API serves them: read, save, train, and
the points the outcomes disagree with.

Each function owns its transaction (:func:`leadflow.db.session_scope`) and returns JSON-ready
data. :func:`replace_scoring_model` also starts the job that re-scores every lead with the new
version (:func:`leadflow.temporal.start_rescore_all`).
"""

from __future__ import annotations

from typing import Any

from leadflow.db import session_scope
from leadflow.errors import NotFound
from leadflow.scoring import predictive
from leadflow.scoring.service import active_model, save_model
from leadflow.scoring.service import model_public as scoring_public

__all__ = ["predictive_model", "predictive_suggestions", "replace_scoring_model",
           "save_scoring_model", "scoring_model", "train_predictive"]


def scoring_model(db_url: str) -> dict[str, Any]:
    """``GET /api/scoring``: the model in force and its version (0: the built-in one)."""
    with session_scope(db_url) as session:
        return scoring_public(active_model(session))


def save_scoring_model(db_url: str, document: Any) -> dict[str, Any]:
    """Store ``document`` as the next version of the scoring model; returns it as
    :func:`scoring_model` does (its ``version`` is the one to re-score every lead with).

    Raises:
        Invalid: the document has problems (every one listed).
    """
    with session_scope(db_url) as session:
        return scoring_public(save_model(session, document))


async def replace_scoring_model(db_url: str, client: Any, document: Any) -> dict[str, Any]:
    """``PUT /api/scoring``: store ``document`` as the next version, then start the job that
    re-scores every lead with it, in batches (``rescore.workflow_id``), without waiting for it.

    Raises:
        Invalid: the document has problems (every one listed); nothing is stored or started.
    """
    from leadflow.temporal import start_rescore_all

    model = save_scoring_model(db_url, document)
    workflow_id = await start_rescore_all(client, model["version"])
    return {**model, "rescore": {"workflow_id": workflow_id}}


def train_predictive(db_url: str, *, min_per_class: int) -> dict[str, Any]:
    """Fit, compare and maybe promote a predictive model (see
    :func:`leadflow.scoring.predictive.train`); the run without its weights."""
    with session_scope(db_url) as session:
        row = predictive.train(session, active_model(session), min_per_class=min_per_class)
        return predictive.model_public(row, with_weights=False)


def predictive_model(db_url: str) -> dict[str, Any]:
    """The active predictive model with its metrics and weights.

    Raises:
        NotFound: none is active yet.
    """
    with session_scope(db_url) as session:
        row = predictive.active_predictive(session)
        if row is None:
            raise NotFound("No predictive model is active yet: train one with "
                           "POST /api/scoring/predictive/train once sales has reported outcomes.")
        return predictive.model_public(row)


def predictive_suggestions(db_url: str) -> dict[str, Any]:
    """Scoring rules whose points the outcomes disagree with, each in a sentence."""
    with session_scope(db_url) as session:
        return predictive.suggestions(session, active_model(session))
