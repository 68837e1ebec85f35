"""Refused tokens, throttled: a client that sends too many wrong bearer tokens waits.

The admin and feedback tokens are compared in constant time, so a guess learns nothing from
the clock; this bounds how many guesses there are. After ``limit`` refused tokens (sent, not
missing: no header guesses nothing) from one client within ``window_s`` seconds, every token
from that client is refused with a 429 until the window ends (the right one too: otherwise a
guesser would still learn when it is right).
Memory is bounded: at most ``clients`` clients, the least recently refused forgotten first.
A client is what probing detection calls one (`routes.common.client_of`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from serving import metrics


class Throttle:
    """Per-client counts of refused tokens in a fixed window."""

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.clients, self.clock = limit, window_s, clients, clock
        self._refused: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next token is looked at (0: none)."""
        with self._lock:
            found = self._refused.get(client)
            if found is None:
                return 0.0
            start, count = found
            left = start + self.window_s - self.clock()
            if left <= 0:
                del self._refused[client]
                return 0.0
            return left if count >= self.limit else 0.0

    def refuse(self, client: str, route: str) -> None:
        """Count one refused token from ``client`` (``route``: for the metric)."""
        metrics.child(metrics.REFUSED_TOKENS, route).inc()
        with self._lock:
            now = self.clock()
            start, count = self._refused.pop(client, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            self._refused[client] = (start, count + 1)
            while len(self._refused) > self.clients:
                self._refused.popitem(last=False)
