"""Results named by the paths their files were given as: a provider knows only base names, so that
``d1/a.wav`` and ``d2/a.wav`` would both come back as ``a.wav``."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Any

import attrs

from batchkit.models import FileResult

REMEMBERED = 10_000
"""Jobs whose paths a client remembers, the most recent."""


@attrs.define
class GivenNames:
    """The file paths each job a client created was given, by job id."""

    paths: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def record(self, job_id: str, paths: Iterable[object]) -> None:
        given = tuple(str(p) for p in paths)
        with self.lock:
            self.paths[job_id] = given
            while len(self.paths) > REMEMBERED:
                del self.paths[next(iter(self.paths))]

    def namer(self, job_id: str) -> Callable[[FileResult[Any]], FileResult[Any]]:
        """Renames, one after another in the order given, each result whose source is the base name of
        a given path to that path: the first ``a.wav`` to the first path named ``a.wav``, and so on."""
        with self.lock:
            given = self.paths.get(job_id, ())
        waiting: dict[str, deque[str]] = defaultdict(deque)
        for path in given:
            waiting[PurePath(path).name].append(path)

        def name(result: FileResult[Any]) -> FileResult[Any]:
            paths = waiting.get(result.source)
            return attrs.evolve(result, source=paths.popleft()) if paths else result

        return name
