"""Keeping personal data out of Temporal: a worker interceptor for every activity.

Workflow histories are kept for as long as Temporal keeps them and are read by operators who
may not see personal data, and erasure cannot reach them. Inputs are ids by design; what an
activity returns or raises is not, by nature: a provider's refusal quotes the address, an SMTP
reply names the mailbox. This interceptor is the one gate between activities and history:

* a raised error becomes an ``ApplicationError`` of the same type name (so retry policies and
  non-retryable settings still apply) with every e-mail address replaced by ``[address]``,
  details scrubbed, and no chained cause (a cause is serialized into history too);
* a delivery error (or an error raised from one) says only what happened, as a code: its class
  and the provider's status (``TransientDeliveryError (status 450)``). Provider texts name
  mailboxes and people in ways no pattern finds;
* string values of a result are scrubbed the same way.

The full text stays where it belongs: in the database row the activity wrote (e.g.
``EmailMessage.reason``) for the operator, and in the scrubbed local log.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from leadflow.errors import DeliveryError
from leadflow.logging_setup import redact_pii

__all__ = ["ScrubPersonalData", "scrub"]


def scrub(value: Any) -> Any:
    """``value`` with every e-mail address in its strings (nested lists and dicts too) replaced."""
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v) for v in value)
    return value


def _delivery_code(error: DeliveryError) -> str:
    status = error.extra.get("status")
    unknown = "; the outcome is unknown" if error.extra.get("outcome_unknown") else ""
    return (f"{type(error).__name__}" + (f" (status {status})" if status else "") + unknown
            + "; the provider's answer is kept on the e-mail or notification row")


def _scrubbed_error(exc: Exception) -> ApplicationError:
    delivery = exc if isinstance(exc, DeliveryError) else exc.__cause__
    if isinstance(exc, ApplicationError):
        message = _delivery_code(delivery) if isinstance(delivery, DeliveryError) \
            else redact_pii(exc.message)
        return ApplicationError(
            message, *scrub(list(exc.details)), type=exc.type,
            non_retryable=exc.non_retryable, next_retry_delay=exc.next_retry_delay,
            category=exc.category)
    message = _delivery_code(delivery) if isinstance(delivery, DeliveryError) \
        else redact_pii(str(exc))
    return ApplicationError(message, type=type(exc).__name__)


class _ScrubActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            result = await super().execute_activity(input)
        except FailureError as exc:
            if not isinstance(exc, ApplicationError):
                raise  # cancellation and the like: Temporal's own, no personal data
            raise _scrubbed_error(exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("temporalio"):
                raise  # e.g. CompleteAsyncError: control flow, not a failure
            raise _scrubbed_error(exc) from None
        return scrub(result)


class ScrubPersonalData(Interceptor):
    """Worker interceptor: no e-mail address leaves an activity for workflow history."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ScrubActivity(next)
