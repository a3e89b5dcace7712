"""What batchkit tells as it works: every request sent, create, retry, rate-limit pause and chunk step
(:class:`Event`), to the :class:`Observer` given as the client's ``observer`` setting.

Metrics (:mod:`batchkit.metrics`), traces (:mod:`batchkit.tracing`), structured logs (:class:`LogEvents`)
and the worker's progress line are observers; :class:`Observers` tells several at once. An event never
carries a key, a request's headers or a URL: only names, ids, counts, durations and status classes.

>>> import logging, batchkit
>>> from batchkit.observing import JsonLines, LogEvents
>>> handler = logging.StreamHandler()
>>> handler.setFormatter(JsonLines())
>>> logging.getLogger("batchkit").addHandler(handler)
>>> client = batchkit.connect("resemble", observer=LogEvents())   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import attrs

EVENTS = {
    "request": "a request got a reply, or failed on the way (operation, status class, seconds, upload bytes)",
    "retry": "a request is sent again after a delay (seconds)",
    "rate_limited": "a 429 paused every request of the provider and key (seconds)",
    "rate_wait": "a request waited for the shared rate (seconds)",
    "create": "a create's outcome: accepted, refused or ambiguous",
    "worker_started": "a worker began",
    "worker_stopped": "a worker ended (its chunks are free for others)",
    "chunk_claimed": "a worker took a chunk under a lease",
    "chunk_sent": "its job was created (remote id)",
    "chunk_answered": "a synchronous provider answered it with its results",
    "chunk_adopted": "an interrupted send's job was found and recorded",
    "chunk_ambiguous": "a send that may have landed could not be matched to a job",
    "chunk_unsent": "its create was refused with a 429 before a job was made: planned again",
    "chunk_failed": "the provider refused it, or it failed before anything was sent",
    "chunk_polled": "its job was checked and has not ended",
    "chunk_finished": "its job ended and every file's result is in the journal",
    "lease_lost": "another worker took the chunk over after this one's lease ended",
}
"""The stable event names and what each means."""


@attrs.frozen
class Event:
    """One thing batchkit did: ``name`` (one of :data:`EVENTS`), the ``provider``, and what applies of
    ``run``, ``chunk`` (its index), ``remote_id`` (the provider's job id), ``attempt`` (a request's
    attempt; a chunk's claim number), ``seconds`` (a duration or a wait), ``operation`` (a request's:
    ``create``, ``upload``, ``download``, ``read``, ``post``, ...), ``status`` (a request's status class
    ``2xx``/``4xx``/``5xx``/``error``, a create's outcome) and ``upload_bytes``."""

    name: str
    provider: str
    run: str | None = None
    chunk: int | None = None
    remote_id: str | None = None
    attempt: int | None = None
    seconds: float | None = None
    operation: str | None = None
    status: str | None = None
    upload_bytes: int | None = None

    def fields(self) -> dict[str, Any]:
        """The event's values that are set, ``name`` first."""
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


class Observer:
    """Told of every :class:`Event`; does nothing by default (override what you need).

    Called on the thread or event loop that works, so each call must be quick and must not raise."""

    def event(self, event: Event) -> None:
        """``event`` happened."""

    def tick(self, monotonic: float) -> None:
        """A worker is working (called a few times a second, on the client's clock)."""

    @contextlib.contextmanager
    def span(self, name: str, attributes: MutableMapping[str, Any]) -> Iterator[None]:
        """Around one step of a chunk (``batchkit.submit``, ``.poll``, ``.collect``, ``.reconcile``);
        ``attributes`` may gain values (a remote id) before the step ends."""
        yield


NO_OBSERVER = Observer()
"""The observer of a client given none."""


class Observers(Observer):
    """Tells each of ``observers`` in turn."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)

    def event(self, event: Event) -> None:
        """Each observer's :meth:`Observer.event`."""
        for observer in self.observers:
            observer.event(event)

    def tick(self, monotonic: float) -> None:
        """Each observer's :meth:`Observer.tick`."""
        for observer in self.observers:
            observer.tick(monotonic)

    @contextlib.contextmanager
    def span(self, name: str, attributes: MutableMapping[str, Any]) -> Iterator[None]:
        """Each observer's :meth:`Observer.span`, nested."""
        with contextlib.ExitStack() as stack:
            for observer in self.observers:
                stack.enter_context(observer.span(name, attributes))
            yield


class LogEvents(Observer):
    """Logs each event on the ``batchkit.events`` logger: the message is
    ``name key=value ...`` and the record carries ``event`` and each field as attributes (for
    :class:`JsonLines` or any structured formatter)."""

    QUIET = frozenset({"request", "chunk_polled", "rate_wait"})
    """Events logged at DEBUG (the frequent ones); the others at INFO but :attr:`WARN`."""
    WARN = frozenset({"lease_lost", "chunk_ambiguous", "chunk_failed"})
    """Events logged at WARNING."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("batchkit.events")

    def event(self, event: Event) -> None:
        """Log ``event``."""
        level = logging.WARNING if event.name in self.WARN else logging.INFO
        level = logging.DEBUG if event.name in self.QUIET else level
        if not self.logger.isEnabledFor(level):
            return
        fields = event.fields()
        words = " ".join(f"{k}={v}" for k, v in fields.items() if k != "name")
        self.logger.log(level, "%s %s", event.name, words, extra={"event": event.name, "fields": fields})


class JsonLines(logging.Formatter):
    """A log record as one JSON object: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``event`` (a
    :class:`LogEvents` record's name, else ``message``), the event's fields, and ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        """``record`` as a line of JSON."""
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line: dict[str, Any] = {"time": moment, "level": record.levelname.lower(), "logger": record.name}
        line["event"] = getattr(record, "event", "message")
        line.update({k: v for k, v in getattr(record, "fields", {}).items() if k != "name"})
        line["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(line, default=str)
