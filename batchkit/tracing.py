"""OpenTelemetry spans of a worker's steps (``pip install 'batchkit[otel]'``): ``batchkit.submit``,
``batchkit.poll``, ``batchkit.collect`` and ``batchkit.reconcile``, each with the attributes
``batchkit.provider``, ``batchkit.run``, ``batchkit.chunk`` and (once known) ``batchkit.remote_id``.

>>> from batchkit.tracing import Spans
>>> client = batchkit.connect_async("resemble", observer=Spans())    # doctest: +SKIP

The spans are not made current (a worker's steps interleave on one thread or loop), so HTTP spans of
an instrumented httpx client given as ``http_client`` are siblings, not children. A span never holds a
key or a URL; a failed step's span records the error's type and message (which never hold them either).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from batchkit.observing import Observer

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


class Spans(Observer):
    """Makes a span of each worker step with ``tracer_provider``'s tracer (default: the global one)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        from opentelemetry import trace

        import batchkit

        self.tracer = trace.get_tracer("batchkit", batchkit.__version__, tracer_provider=tracer_provider)

    @contextlib.contextmanager
    def span(self, name: str, attributes: MutableMapping[str, Any]) -> Iterator[None]:
        """A span named ``name`` around the step, with its ``attributes`` as they are when it ends."""
        from opentelemetry.trace import Status, StatusCode

        span = self.tracer.start_span(name, attributes=dict(attributes))
        try:
            yield
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            span.set_attributes(dict(attributes))
            span.end()
