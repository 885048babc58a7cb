"""A token bucket per provider, shared by every send in this process."""

from __future__ import annotations

import threading
import time

__all__ = ["TokenBucket", "bucket_for"]


class TokenBucket:
    """Allows ``rate`` acquisitions per second on average, in bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now or reserve the next one; return how long to wait for it."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Block until a send may go; returns the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            time.sleep(wait)
        return wait


_buckets: dict[tuple[str, float], TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(provider: str, rate: float) -> TokenBucket:
    """The process-wide bucket of ``provider`` at ``rate`` messages per second."""
    with _buckets_lock:
        bucket = _buckets.get((provider, rate))
        if bucket is None:
            bucket = _buckets[(provider, rate)] = TokenBucket(rate)
        return bucket
