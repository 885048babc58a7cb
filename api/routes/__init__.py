"""Every router of the API; add a module's router here to publish it."""

from leadflow.api.routes import (
    events,
    flow_changes,
    flows,
    health,
    keys,
    leads,
    outbox,
    outcomes,
    privacy,
    public,
    reports,
    sales,
    scoring,
    templates,
    webhooks,
    workspace,
)

ROUTERS = [
    health.router,
    keys.router,
    leads.router,
    events.router,
    flows.router,
    flow_changes.router,
    templates.router,
    outbox.router,
    sales.router,
    webhooks.router,
    public.router,
    privacy.router,
    scoring.router,
    reports.router,
    outcomes.router,
    workspace.router,
]

__all__ = ["ROUTERS"]
