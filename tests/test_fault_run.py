"""A fault run: 200 jobs across both providers under every injected fault.

Every submission ends in a job or a typed error; the emulator's create count equals the jobs
returned plus the ambiguous creates that really landed; nothing escapes that is not a batchkit error.
"""

from __future__ import annotations

import random

import pytest

import batchkit
from batchkit import JobStatus
from batchkit.emulator import FaultKind

CREATE = {"hume": "POST /v0/batch/jobs", "resemble": "POST /api/v2/detect/batch"}
READ = {"hume": "GET /v0/batch/jobs/*", "resemble": "GET /api/v2/detect/batch/*"}
# what a fault on the create must become, and whether the job was created anyway
CREATE_FAULTS = {
    None: (None, True),
    FaultKind.STATUS: (batchkit.AmbiguousSubmissionError, False),
    FaultKind.NOT_JSON: (batchkit.AmbiguousSubmissionError, False),
    FaultKind.DROP_BEFORE_BODY: (batchkit.AmbiguousSubmissionError, False),
    FaultKind.DROP_AFTER_BODY: (batchkit.AmbiguousSubmissionError, True),
    FaultKind.RATE_LIMIT: (batchkit.RateLimitedError, False),
    FaultKind.MALFORMED: (batchkit.AmbiguousSubmissionError, True),
}
READ_FAULTS = [FaultKind.STATUS, FaultKind.RATE_LIMIT, FaultKind.DROP_BEFORE_BODY, FaultKind.DROP_AFTER_BODY,
               FaultKind.NOT_JSON, FaultKind.SLOW, FaultKind.MALFORMED]  # fmt: skip


@pytest.mark.long
def test_two_hundred_jobs_under_faults(emulated, emu, media) -> None:
    rng = random.Random(7)
    emu.config.run_seconds = 0.2
    wav = media("clip.wav", 20_000)
    retry = batchkit.RetryPolicy(max_retries=4, backoff_base=0.01)
    poll = batchkit.PollSchedule(initial=0.05, factor=1.5, maximum=0.3, max_rate=200, concurrency=8)
    clients = {p: emulated(p, retry=retry, poll=poll, timeout=2.0) for p in ("hume", "resemble")}
    returned: dict[str, list[batchkit.BatchJob]] = {"hume": [], "resemble": []}
    landed_anyway = {"hume": 0, "resemble": 0}
    outcomes: dict[str, int] = {}
    for i in range(200):
        provider = "hume" if i % 2 else "resemble"
        fault = rng.choice(list(CREATE_FAULTS)) if rng.random() < 0.4 else None
        expected, creates = CREATE_FAULTS[fault]
        if fault is not None:
            emu.faults.add(CREATE[provider], fault, status=rng.choice([500, 502, 503]), retry_after=0.01)
        before = emu.created(provider)
        got: type[Exception] | None = None
        try:
            returned[provider].append(clients[provider].submit([wav]))
        except batchkit.BatchkitError as exc:
            got = type(exc)
        assert got is expected, (fault, got)
        name = got.__name__ if got else "created"
        outcomes[name] = outcomes.get(name, 0) + 1
        assert emu.created(provider) - before == int(creates)
        landed_anyway[provider] += int(creates and expected is not None)

    for provider in ("hume", "resemble"):
        for fault in READ_FAULTS:
            emu.faults.add(READ[provider], fault, times=3, status=503, retry_after=0.01, delay=2.5)  # past the read timeout
        done = clients[provider].wait_all(returned[provider])
        assert all(job.status in (JobStatus.SUCCEEDED,) for job in done)
        assert emu.created(provider) == len(returned[provider]) + landed_anyway[provider]
    assert sum(outcomes.values()) == 200
    assert emu.faults.injected >= 60
    kind = type(clients["hume"]._client).__name__
    print(f"\nfault run ({kind}): {outcomes}, faults injected {emu.faults.injected}, "
          f"creates {emu.created('hume')} hume + {emu.created('resemble')} resemble")  # fmt: skip
