"""Journeys: the flow format and its validator, conditions, durations, the pure interpreter
(``engine``), flow drafts and published versions, enrolment, and what journey steps do
(``actions``, ``notify_step``).

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``temporal``,
``rendering``, ``channels``, ``metrics``), ``leadflow.mail`` and ``leadflow.leads``; never
``leadflow.api``, ``leadflow.workflows`` or ``leadflow.activities``. The flow simulator
(``simulation``) also reads ``leadflow.scoring`` (the model's maths) and ``leadflow.sales``
(business calendars), as the steps it stands in for do.
"""
