"""The work for Temporal that follows a database change, and its delivery.

A change (an event stored, a lead updated, a journey exited, a sales action) plans a
:class:`Dispatch` (journeys to start, signals to send, score timers to arm), records it in the
same transaction into the outbox of :mod:`leadflow.intents`, and after the commit
:func:`run_dispatch` delivers it at once if Temporal answers; the outbox drainer delivers
whatever Temporal did not take. Shared by every domain package; imports only the shared core.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session, col, update

from leadflow.errors import Unavailable
from leadflow.models import Event
from leadflow.temporal import JourneyInput, arm_score_timers, signal_journey, start_journey

__all__ = ["Dispatch", "run_dispatch"]

log = logging.getLogger(__name__)


@dataclass
class Dispatch:
    """Work for Temporal that follows a database change."""

    starts: list[JourneyInput] = field(default_factory=list)
    signals: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    # (lead id, POSIX time): when each rescored lead's temperature next changes by decay alone.
    score_timers: list[tuple[str, float]] = field(default_factory=list)
    # set by record(): the plan's rows in the outbox
    intent_ids: list[int] = field(default_factory=list)
    # set by record(): the rows it leased to this plan's own delivery (journey starts)
    leased: list[Any] = field(default_factory=list)
    recorded: bool = False

    def record(self, session: Session) -> Dispatch:
        """Write the plan into the outbox in ``session``'s transaction (see the module doc)."""
        from leadflow.intents import record

        record(session, self)
        return self

    @property
    def needs_temporal(self) -> bool:
        """Whether delivering the plan calls Temporal (starts, signals or score timers)."""
        return bool(self.starts or self.signals or self.score_timers)

    def extend(self, other: Dispatch) -> None:
        self.starts += other.starts
        self.signals += other.signals
        self.event_ids += other.event_ids
        self.score_timers += other.score_timers


_SENDING: set[asyncio.Task[None]] = set()  # deliveries running after their request answered


async def settle_deliveries(timeout: float = 15.0) -> None:
    """Wait (at most ``timeout`` seconds) for the background deliveries this process has under
    way: for a clean shutdown, and for measuring a burst of requests until Temporal has them."""
    pending = set(_SENDING)
    if pending:
        await asyncio.wait(pending, timeout=timeout)


async def run_dispatch(client: Any, plan: Dispatch, db_url: str | None = None,
                       concurrency: int = 32, *, background: bool = True) -> None:
    """Deliver the plan to Temporal.

    A recorded plan (:meth:`Dispatch.record`) is delivered from the outbox, best effort and (by
    default) in the background, so a request answers without waiting for Temporal: what
    Temporal does not take now (``client`` None, or unreachable) the drainer delivers later, so
    this never raises for Temporal's sake. An unrecorded plan (activities in the worker, which
    Temporal retries as a whole) is started and signalled directly, then its events marked
    dispatched.
    """
    from leadflow.db import session_scope

    if plan.recorded:
        if client is None or not plan.intent_ids:
            return
        from leadflow.intents import deliver

        async def send() -> None:
            try:
                await asyncio.wait_for(deliver(client, db_url, ids=plan.intent_ids,
                                               leased=plan.leased, concurrency=concurrency),
                                       timeout=10)
            except Exception as exc:  # noqa: BLE001 - left in the outbox: the drainer sends it
                log.info("delivery deferred to the outbox drainer: %s", type(exc).__name__)

        if not background:
            await send()
            return
        # The write is durable already: the answer does not wait for Temporal's round trips.
        task = asyncio.get_running_loop().create_task(send())
        _SENDING.add(task)
        task.add_done_callback(_SENDING.discard)
        # One turn of the loop, so the delivery is under way before the caller goes on: callers
        # that never wait on I/O (an in-process client sending a burst) would otherwise hold
        # every delivery of the burst until its last request is answered.
        await asyncio.sleep(0)
        return
    from leadflow.journeys.flows import start_documents
    from leadflow.metrics import record_journey_started

    if client is None and plan.needs_temporal:
        # never `None.start_workflow`: say what is missing (the events stay undispatched)
        raise Unavailable("Temporal is not reachable; this change was not recorded in the outbox.")
    gate = asyncio.Semaphore(concurrency)
    documents = await asyncio.to_thread(
        start_documents, db_url, [(s.flow_id, s.version) for s in plan.starts]) \
        if plan.starts else {}

    async def start(inp: JourneyInput) -> None:
        doc = documents.get((inp.flow_id, inp.version))
        if inp.flow is None and doc is not None:
            inp = replace(inp, flow=doc)  # the journey needs no load_flow then
        async with gate:
            if await start_journey(client, inp):
                record_journey_started(inp.flow_id)

    async def signal(wid: str, name: str, payload: dict[str, Any]) -> None:
        async with gate:
            await signal_journey(client, wid, name, payload)

    seen: set[str] = set()
    starts = [s for s in plan.starts if not (s.journey_id in seen or seen.add(s.journey_id))]
    await asyncio.gather(*(start(s) for s in starts))
    await asyncio.gather(*(signal(*s) for s in plan.signals))
    if plan.score_timers:
        await arm_score_timers(client, plan.score_timers, concurrency)
    if plan.event_ids:
        with session_scope(db_url) as session:
            session.exec(update(Event).where(col(Event.id).in_(plan.event_ids))  # type: ignore[call-overload]
                         .values(dispatched=True))
