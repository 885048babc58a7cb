"""Journeys: the flow format and its validator, conditions, durations, the pure interpreter
(``engine``), flow drafts and published versions, the capture forms flows enrol by
(``forms``), enrolment and the end of a journey (its open hand-off withdrawn), what journey
steps do (``actions``, ``notify_step``), flow controls and migrations (``flow_changes``).

May import the shared core (``leadflow.config``, ``db``, ``models``, ``errors``, ``temporal``,
``dispatch``, ``rendering``, ``channels``, ``metrics``), ``leadflow.mail`` and
``leadflow.leads``; never ``leadflow.scoring``, ``leadflow.sales``, ``leadflow.usecases``
(the update step, the reconciler and the simulator live there), ``leadflow.api``,
``leadflow.workflows`` or ``leadflow.activities``.
"""
