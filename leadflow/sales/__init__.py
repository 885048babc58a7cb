"""Sales: routing, business calendars and SLA arithmetic, handoffs and their escalation ladder,
notifications to reps, what a rep does with a handoff (``loop``), reps and teams (``admin``)
and the SLA report.

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``auth``,
``channels``, ``dispatch``, ``metrics``), ``leadflow.leads``, ``leadflow.mail``,
``leadflow.journeys`` (conditions, durations, flows, enrolment) and ``leadflow.scoring``;
never ``leadflow.usecases``, ``leadflow.api``, ``leadflow.workflows`` or
``leadflow.activities``.
"""
