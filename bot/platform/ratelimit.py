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


@dataclass
class _AlertKind:
    alerted_at: float | None  # None: held back by the overall budget before it was ever sent
    held: int = 0


class AlertThrottle:
    """Admins hear of each kind of error at most once per ``window`` seconds, and of at most ``budget`` kinds per
    window in all; what was held back is counted and reported with the next alert of its kind. So an error that
    repeats, or anyone who can trigger one, cannot flood the admins."""

    def __init__(self, window: float = 600.0, budget: int = 10, max_kinds: int = 1000) -> None:
        self.window = window
        self.budget = budget
        self.max_kinds = max_kinds
        self._kinds: dict[str, _AlertKind] = {}
        self._sent: list[float] = []  # when the alerts of the current window went out

    def admit(self, kind: str, now: float) -> int | None:
        """None: hold this alert back (it is counted). Otherwise send it: returns how many of its kind were held."""
        self._sent = [at for at in self._sent if now - at < self.window]
        entry = self._kinds.get(kind)
        quiet = entry is not None and entry.alerted_at is not None and now - entry.alerted_at < self.window
        if quiet or len(self._sent) >= self.budget:
            if entry is None:
                self._make_room(now)
                entry = self._kinds[kind] = _AlertKind(None)
            entry.held += 1
            return None
        self._make_room(now)
        self._kinds[kind] = _AlertKind(now)
        self._sent.append(now)
        return entry.held if entry is not None else 0

    def _make_room(self, now: float) -> None:
        """Forgets the kinds whose quiet time is over, keeping memory bounded (their held counts go with them)."""
        if len(self._kinds) < self.max_kinds:
            return
        self._kinds = {
            kind: entry
            for kind, entry in self._kinds.items()
            if entry.alerted_at is not None and now - entry.alerted_at < self.window
        }
