"""Scoring: the scoring model (fit rules, decaying behaviour points, temperature), keeping
each lead's score up to date in the database (``service``) and predictive scoring
(``predictive``).

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``temporal``),
``leadflow.leads``, ``leadflow.mail`` and ``leadflow.journeys`` (conditions, durations); never
``leadflow.sales``, ``leadflow.usecases`` (the score timers, which dispatch through the events
pipeline, live there), ``leadflow.api``, ``leadflow.workflows`` or ``leadflow.activities``.
"""
