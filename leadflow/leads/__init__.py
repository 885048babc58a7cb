"""Leads: records, their events and timeline, consent and suppression, attribution, lifecycle
stages and the funnel report.

The lowest domain package: it may import only the shared core (``leadflow.config``, ``db``,
``models``, ``errors``, ``temporal``, ``dispatch``, ``metrics``). What an event or a lead
change sets going (rescoring, enrolment), capture forms, privacy and CSV import orchestrate
several packages and live in ``leadflow.usecases``.
"""
