"""Scoring: the scoring model (fit rules, decaying behaviour points, temperature), keeping
each lead's score up to date in the database (``service``) and the durable score timers
(``timers``).

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``temporal``),
``leadflow.journeys`` (conditions, durations) and ``leadflow.leads``; never ``leadflow.api``,
``leadflow.workflows`` or ``leadflow.activities``.
"""
