"""Response models: what each route returns, as ``/docs`` and the studio's generated types see it.

One module per domain, named like the core package the answers come from, so a reader finds a
route's shape in one hop from its route module:

- ``common``: what every domain shares (the :class:`~common.Shape` base, ISO times, problems,
  non-JSON answers: pages, images, redirects, 204s).
- ``leads``: leads, their timeline and notes, imports, events, capture forms, privacy export.
- ``journeys``: flows, versions, enrolment, stats, simulation, and changing running flows.
- ``mail``: e-mail templates and previews, the local outbox, the SendGrid webhook.
- ``system``: health, meta, API keys, workspace settings.
- ``sales``, ``scoring``, ``outcomes``, ``reports``: reps, teams, handoffs, the scoring models,
  outcomes and predictive scoring, the reports.

Routes name their model with ``response_model=`` (the functions keep returning the core's
plain dicts). The models describe the JSON the core already builds, key for key, so declaring
them documents the wire format without changing it: numbers that can be whole or fractional
are ``int | float`` so a ``5`` is never re-sent as ``5.0``; times stay the core's ISO-8601
strings (``common.IsoTime``); models on :class:`~common.Shape` keep keys they do not name, and
routes whose keys may be absent answer with ``response_model_exclude_unset=True``, so no default
is added. ``tests/test_api_shapes.py`` holds routes to the shape they had before their models.
Request bodies a route reads itself stay in ``leadflow.api.bodies``.
"""
