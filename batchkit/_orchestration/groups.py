"""The jobs of one large submission, as one value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from batchkit._kernel.journal import Chunk, ChunkState
from batchkit.models import BatchJob, JobStatus


@attrs.frozen
class JobGroup:
    """The jobs of one large submission; iterate it to get them (``client.wait_all(group)``)."""

    provider: str
    journal: str
    """The journal's file, or its URL without the password."""
    chunks: tuple[Chunk, ...]
    jobs: tuple[BatchJob, ...]
    run: str = ""
    """The run's id in the journal (``batchkit results --journal … --run …``)."""

    def __iter__(self) -> Iterator[BatchJob]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def status(self) -> JobStatus:
        """The combined status of the jobs as last known (see :meth:`JobStatus.combine`)."""
        return JobStatus.combine(job.status for job in self.jobs)

    def refreshed(self, jobs: Iterable[BatchJob]) -> JobGroup:
        """This group with the jobs' latest states (``group.refreshed(client.wait_all(group))``)."""
        latest = {job.id: job for job in jobs}
        return attrs.evolve(self, jobs=tuple(latest.get(job.id, job) for job in self.jobs))

    @property
    def ambiguous(self) -> tuple[Chunk, ...]:
        """Chunks that may have been created but could not be matched to a job."""
        return tuple(c for c in self.chunks if c.state in (ChunkState.AMBIGUOUS, ChunkState.SENDING))
