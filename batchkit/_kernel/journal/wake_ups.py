"""Wake-ups for idle workers on PostgreSQL: ``LISTEN batchkit`` on a connection of its own, in a thread,
counting the ``NOTIFY`` a journal sends when a run is enqueued or a chunk can be claimed again. Polling
stays the fallback: a lost connection is opened again, and a wake-up missed meanwhile costs one poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("batchkit")

CHANNEL = "batchkit"
"""The channel every journal of a database notifies on (the payload is the run's id)."""
LISTEN_TICK = 0.5
"""How long the listening thread waits for a notification before it looks whether it should stop."""
RECONNECT = (1.0, 30.0)
"""The first wait before the listening connection is opened again after it was lost, and the longest."""


class WakeUps:
    """How many wake-ups have come (:attr:`count`), from a thread listening on :data:`CHANNEL`."""

    def __init__(self, connect: Callable[[], object], scrub: Callable[[BaseException], str]) -> None:
        self._connect, self._scrub = connect, scrub
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="batchkit-wake-ups", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        import psycopg

        pause = RECONNECT[0]
        while not self._stop.is_set():
            try:
                with self._connect() as db:  # type: ignore[attr-defined]
                    db.execute(f"LISTEN {CHANNEL}")
                    self.count += 1  # (re)connected: anything sent while it was away is looked for
                    pause = RECONNECT[0]
                    while not self._stop.is_set():
                        for _ in db.notifies(timeout=LISTEN_TICK):
                            self.count += 1
            except psycopg.Error as exc:
                log.info("the journal's wake-ups are lost (%s); polling until they are back", self._scrub(exc))
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT[1])

    def close(self) -> None:
        """Stop listening (within :data:`LISTEN_TICK`)."""
        self._stop.set()
        self._thread.join()
