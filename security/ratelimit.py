"""A sliding-window rate limiter held in memory, for sign-in attempts and uploads.

The limits are per process: a deployment running several API processes allows each its own
budget, which is still a hard ceiling on guessing (the process count times the limit) and needs
nothing shared. Windows are measured on the monotonic clock, so a wall-clock change neither
unlocks nor locks anyone out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` events per key in any ``window_s`` seconds.

    ``hit`` records an event when it is allowed and refuses it (recording nothing) when the key
    already had ``limit`` events in the last ``window_s`` seconds, so a client that keeps trying
    while refused does not push its own wait further out. ``peek`` asks the same question without
    recording: sign-in checks first and records only the attempts that fail.

    max_keys: how many keys are remembered at most (client addresses are unbounded); past it the
    key idle longest is forgotten first, which can only ever let its owner in sooner.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"a rate limit allows at least one event, not {limit}")
        if window_s <= 0:
            raise ValueError(f"a rate-limit window is a positive number of seconds, not {window_s}")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _wait(self, key: str, now: float) -> tuple[deque[float], float | None]:
        """The key's recent events (older ones dropped) and how long until one more is allowed."""
        events = self._events.get(key)
        if events is None:
            events = deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if len(events) < self.limit:
            return events, None
        # The oldest event in the window leaves it at events[0] + window_s.
        return events, max(events[0] + self.window_s - now, 0.001)

    def hit(self, key: str) -> float | None:
        """Record one event for ``key``: None when allowed, else the seconds until it would be."""
        with self._lock:
            now = self._clock()
            events, wait = self._wait(key, now)
            if wait is not None:
                return wait
            events.append(now)
            self._events[key] = events
            self._events.move_to_end(key)
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
            return None

    def peek(self, key: str) -> float | None:
        """Like ``hit`` but records nothing: None when an event would be allowed now."""
        with self._lock:
            events, wait = self._wait(key, self._clock())
            if not events:
                self._events.pop(key, None)
            return wait

    def reset(self, key: str) -> None:
        """Forget every event of ``key``."""
        with self._lock:
            self._events.pop(key, None)
