"""A rate of creates shared by every worker on one journal, per provider and credential (a token
bucket row in the journal); a 429 pauses every request of them all."""

from __future__ import annotations

import hashlib

import attrs

from batchkit._kernel.clock import Clock
from batchkit._kernel.journal import Journal
from batchkit._kernel.steps import Blocking, Operation, Sleep


def bucket_name(provider: str, base_url: str, key: str) -> str:
    """The bucket of one provider and credential: a digest, never the key."""
    digest = hashlib.sha256(f"{base_url}\n{key}".encode()).hexdigest()[:16]
    return f"{provider}:{digest}"


@attrs.frozen
class SharedRate:
    """At most ``rate`` creates a second across all workers (None: no limit); after a 429, no request
    at all until its Retry-After has passed."""

    journal: Journal
    bucket: str
    rate: float | None
    clock: Clock

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def before(self, creates: bool) -> Operation[None]:
        rate = self.rate if creates else None
        while True:
            wait: float = yield Blocking(lambda: self.journal.take(self.bucket, rate, self._now_ms(), not creates))
            if wait <= 0:
                return
            yield Sleep(wait)

    def pause(self, seconds: float) -> Operation[None]:
        until = self._now_ms() + int(seconds * 1000)
        yield Blocking(lambda: self.journal.pause(self.bucket, until))
