"""Leads: records and their timeline, events from outside (ingest and dispatch planning),
capture forms, consent and suppression, privacy (export, erasure), CSV import, attribution,
lifecycle stages and the funnel report.

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``temporal``,
``metrics``), ``leadflow.mail``, ``leadflow.journeys`` (enrolment) and ``leadflow.scoring``;
never ``leadflow.api``, ``leadflow.workflows`` or ``leadflow.activities``.
"""
