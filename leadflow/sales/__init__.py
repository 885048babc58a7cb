"""Sales: routing, business calendars and SLA arithmetic, handoffs and their escalation ladder,
notifications to reps, what a rep does with a handoff (``loop``), reps and teams (``admin``)
and the SLA report.

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``auth``,
``channels``, ``metrics``), ``leadflow.mail``, ``leadflow.journeys`` (conditions, durations,
flows) and ``leadflow.leads``; never ``leadflow.api``, ``leadflow.workflows`` or
``leadflow.activities``.
"""
