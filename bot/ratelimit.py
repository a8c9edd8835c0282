"""Per-user flood control: a token bucket per person, so one flooding user cannot crowd out everybody else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    warn: bool  # the first refusal since the person last slowed down: tell them once, then stay quiet


class UserRateLimiter:
    """``burst`` updates at once (an album of 10 photos is 10 updates), then ``per_second`` on average."""

    def __init__(self, burst: int = 20, per_second: float = 4.0, max_users: int = 100_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_users = max_users
        self._buckets: dict[int, _Bucket] = {}

    def check(self, user_id: int, now: float) -> Verdict:
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._forget_full(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= self.burst:
            bucket.warned = False  # they really slowed down: a new flood gets a new warning
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict(True, False)
        warn = not bucket.warned
        bucket.warned = True
        return Verdict(False, warn)

    def _forget_full(self, now: float) -> None:
        """Drops the buckets that have refilled anyway, keeping memory bounded."""
        full_after = self.burst / self.per_second
        self._buckets = {uid: b for uid, b in self._buckets.items() if now - b.updated < full_after}
