"""A seeded generator of lead histories with known true effects, for the predictive model.

Every lead becomes an MQL five days after it is created and gets an outcome (won or lost) a month
later. Whether it is won is drawn from a logistic model whose effects are known
(:data:`TRUE_EFFECTS`): partner leads and VPs are good, paid ads are poor, viewing the pricing
page and attending a webinar matter, and opening e-mails does not matter at all. The points
model the tests install (:data:`POINTS_MODEL`) rewards e-mail opens heavily, as many real points
models do, so a model trained on outcomes has something to beat.

Used by ``tests/test_predictive.py`` and ``bench/predictive.py``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from leadflow.models import Event, Lead, Outcome, StageChange, new_id

__all__ = ["POINTS_MODEL", "TRUE_EFFECTS", "Generated", "generate"]

#: Log-odds effects of the true model (per log1p(count) for event types).
TRUE_EFFECTS: dict[str, float] = {
    "intercept": -0.9,
    "source=partner": 1.4,
    "source=ads": -1.1,
    "seniority=vp": 0.9,
    "events.pricing.viewed": 1.1,
    "events.webinar.attended": 0.8,
    "events.email.opened": 0.0,
}

#: A points model that over-rewards opens and under-rewards the pricing page.
POINTS_MODEL: dict[str, Any] = {
    "fit": [{"when": {"field": "title", "op": "contains", "value": "VP"}, "points": 10}],
    "behavior": {"email.opened": 8, "email.clicked": 4, "pricing.viewed": 2,
                 "webinar.attended": 5},
    "decay": {"half_life": "P90D"},
    "temperature": {"hot": 60, "warm": 25},
    "mql_at": 1000,
}

SOURCES = [("partner", 0.15), ("organic", 0.35), ("ads", 0.30), ("webinar", 0.20)]
TITLES = [("VP Marketing", 0.2), ("Director of Sales", 0.2), ("Marketing Manager", 0.3),
          ("Engineer", 0.3)]
COUNTRIES = ["US", "DE", "FR", "GB"]


@dataclass
class Generated:
    leads: int
    won: int
    lost: int
    events: int


def _pick(rng: random.Random, options: list[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _leads(n: int, seed: int, start: datetime, days: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        created = start + timedelta(seconds=days * 86400 * i / max(n, 1))
        source = _pick(rng, SOURCES)
        title = _pick(rng, TITLES)
        opened = _poisson(rng, 4.0)
        clicked = _poisson(rng, 1.0)
        pricing = _poisson(rng, 0.8)
        webinar = 1 if rng.random() < 0.3 else 0
        logit = (TRUE_EFFECTS["intercept"] + TRUE_EFFECTS.get(f"source={source}", 0.0)
                 + (TRUE_EFFECTS["seniority=vp"] if title.startswith("VP") else 0.0)
                 + TRUE_EFFECTS["events.pricing.viewed"] * math.log1p(pricing)
                 + TRUE_EFFECTS["events.webinar.attended"] * math.log1p(webinar)
                 + TRUE_EFFECTS["events.email.opened"] * math.log1p(opened))
        won = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        yield {"i": i, "created": created, "source": source, "title": title,
               "country": rng.choice(COUNTRIES), "employees": int(rng.lognormvariate(4, 1)),
               "events": [("email.opened", opened), ("email.clicked", clicked),
                          ("pricing.viewed", pricing), ("webinar.attended", webinar)],
               "won": won, "amount": round(rng.uniform(5_000, 50_000), 2),
               "offsets": [rng.uniform(0, 4.5) for _ in range(opened + clicked + pricing + webinar)]}


def generate(session: Session, n: int, *, seed: int = 7,
             start: datetime = datetime(2026, 1, 1, tzinfo=UTC), days: int = 300,
             chunk: int = 2000) -> Generated:
    """Insert ``n`` leads with their events, MQL moment and outcome; returns counts."""
    won = lost = events = 0
    batch: dict[str, list[dict[str, Any]]] = {"lead": [], "event": [], "stage": [], "outcome": []}

    def flush() -> None:
        for model, key in ((Lead, "lead"), (Event, "event"), (StageChange, "stage"),
                           (Outcome, "outcome")):
            if batch[key]:
                session.execute(insert(model), batch[key])
                batch[key].clear()

    for lead in _leads(n, seed, start, days):
        lead_id = f"syn-{seed}-{lead['i']:06d}"
        created: datetime = lead["created"]
        mql_at = created + timedelta(days=5)
        batch["lead"].append({
            "id": lead_id, "email": f"{lead_id}@synthetic.example", "source": lead["source"],
            "title": lead["title"], "country": lead["country"], "company": f"Co {lead['i']}",
            "fields": {"employees": lead["employees"]}, "tags": [], "score_breakdown": [],
            "stage": "customer" if lead["won"] else "MQL", "created_at": created,
            "updated_at": created, "unsubscribed": False, "bounced": False,
            "suppressed": False, "score": 0.0, "temperature": "cold"})
        offsets = iter(lead["offsets"])
        for type_, count in lead["events"]:
            for _ in range(count):
                at = created + timedelta(days=next(offsets))
                batch["event"].append({"id": new_id(), "lead_id": lead_id, "type": type_,
                                       "properties": {}, "occurred_at": at, "received_at": at,
                                       "dispatched": True})
                events += 1
        batch["stage"].append({"lead_id": lead_id, "from_stage": "lead", "to_stage": "MQL",
                               "at": mql_at, "cause": "synthetic", "actor": "scoring"})
        closed = mql_at + timedelta(days=30)
        if lead["won"]:
            won += 1
            batch["stage"].append({"lead_id": lead_id, "from_stage": "MQL",
                                   "to_stage": "customer", "at": closed, "cause": "won",
                                   "actor": "sales"})
        else:
            lost += 1
        batch["outcome"].append({"lead_id": lead_id, "outcome": "won" if lead["won"] else "lost",
                                 "amount": lead["amount"] if lead["won"] else None,
                                 "currency": "EUR", "at": closed, "via": "csv",
                                 "created_at": closed, "actor": "generator"})
        if len(batch["lead"]) >= chunk:
            flush()
    flush()
    session.flush()
    return Generated(n, won, lost, events)
