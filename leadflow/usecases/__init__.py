"""Use cases: what one thing happening in the world sets going across the domain packages.

The top layer of the core. Each module here orchestrates the packages below it, which never
call back up:

- ``events``: the events pipeline: store an event or a lead change (``leads``), rescore
  (``scoring``), enrol by entry rules and wake waiting journeys (``journeys``), and plan the
  work for Temporal (:class:`leadflow.dispatch.Dispatch`).
- ``capture``: a public form submission becomes a lead, consent and ``form.submitted``; the
  confirmation link of a double opt-in.
- ``tracking``: a tracked click or an open of the pixel in a lead's mail.
- ``flows``: a marketer publishes a flow's draft or enrols a lead by hand.
- ``leads``: the leads API's use cases (search, read, notes, stage moves, unsubscribe links).
- ``sales_actions``: a rep's handoff action, an outcome, a CSV of outcomes (and reading a
  handoff or a lead's outcomes back).
- ``scoring``: the scoring and predictive models as the API serves them (read, save, train,
  suggestions).
- ``csv_import``: a CSV of leads, each through the pipeline.
- ``privacy``: export and erasure (the lead leaves its journeys first).
- ``score_timers``: rescoring when a lead's temperature decays, and after a model change.
- ``update_step``: a journey's update step, whose change runs through the pipeline.
- ``reconcile``: repairing journeys whose database row and workflow disagree (hand-offs too).
- ``simulation``: a flow run over synthetic leads in simulated time with the live interpreter,
  the scoring model, business calendars and routing.

May import the shared core and every domain package (``leadflow.leads``, ``mail``,
``journeys``, ``scoring``, ``sales``); never ``leadflow.api``, ``leadflow.workflows`` or
``leadflow.activities``, and no domain package imports it.
"""
