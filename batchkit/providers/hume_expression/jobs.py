"""A job batchkit keeps for an API that has none: a run in the journal whose chunks are the upload
requests. Each reply is written to the journal before its request counts as done, since the
measurements exist nowhere else; an upload whose reply was lost is never sent again by itself."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import cattrs

from batchkit._kernel.inputs import LocalFile
from batchkit._kernel.journal import Chunk, ChunkState, Claim, Journal, Run, Scope
from batchkit._kernel.steps import Blocking, Call, Operation, Parallel, Sleep, Upload
from batchkit._kernel.wire import read_json, structure
from batchkit.errors import AmbiguousSubmissionError, BatchkitError, InputError, NotFoundError, ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus

from .models import AudioReply, ExpressionPrediction, Frame, Utterance, VideoReply
from .options import HumeExpressionOptions
from .plan import Item, Plan

LANES = 8
"""Uploads one ``submit`` keeps in flight (within the client's concurrency budget)."""
LEASE_MS = 120_000


@attrs.frozen
class Sends:
    """What the job's operations need of the provider: its name, requests and billing lookup."""

    name: str
    request: Callable[..., Call]
    billing: Callable[[Item, int], Operation[str]]


def now_ms() -> int:
    return int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)


def record(journal: Journal, name: str, plan: Plan) -> str:
    """The job's run, recorded (or found recorded by an earlier submit); failed requests are planned again."""
    files = [(str(f.path.resolve()), f.size, None) for f in plan.files]
    layout = [sorted({p.file for p in item.parts}) for item in plan.items]
    spec = {"items": [attrs.asdict(i) for i in plan.items], "options": attrs.asdict(plan.options),
            "names": [f.name for f in plan.files]}  # fmt: skip
    run = journal.record_run(name, plan.fingerprint, spec, files, layout, now_ms(), local=True)
    journal.retry_failed(run)
    return run


def keep(journal: Journal, name: str, run: str, chunks: Sequence[Chunk]) -> Run:
    """Each input file's result as it stands, in the journal's files (``batchkit results --journal``); the run."""
    found = journal.run(run)
    results = file_results(name, found, chunks)
    journal.keep_results(run, [(i, r.status.value, r.error, dict(r.raw)) for i, r in enumerate(results)])
    return found


def send_all(sends: Sends, journal: Journal, plan: Plan, run: str) -> Operation[list[Chunk]]:
    """Send every request not yet answered, :data:`LANES` at a time; the items as they end."""
    owner, passed = uuid.uuid4().hex, set[int]()

    def lane() -> Operation[None]:
        while True:
            scope = Scope(sends.name, run, poll=False, patient=False, skip=frozenset(passed), local=True)
            claim: Claim | None = yield Blocking(functools.partial(journal.claim, owner, scope, now_ms(), LEASE_MS))
            if claim is None:
                if (yield Blocking(functools.partial(journal.next_due, scope, now_ms()))) is None:
                    return
                yield Sleep(0.2)
                continue
            passed.add(claim.chunk.index)
            yield from _one(sends, journal, claim, plan.items[claim.chunk.index], plan.options)

    try:
        yield Parallel([lane() for _ in range(LANES)])
    finally:
        journal.release(owner)
    chunks: list[Chunk] = yield Blocking(lambda: journal.chunks(run))
    return chunks


def _one(sends: Sends, journal: Journal, claim: Claim, item: Item, options: HumeExpressionOptions) -> Operation[None]:
    chunk = claim.chunk
    if chunk.state in (ChunkState.SENDING, ChunkState.AMBIGUOUS) and not options.resend_ambiguous:
        billed = yield from sends.billing(item, chunk.intent_ms or 0)
        why = f"an earlier upload's reply was lost; {billed}"
        yield Blocking(lambda: journal.ambiguous(claim, why, now_ms(), 0.0))
        return
    intent = yield Blocking(lambda: journal.intend(claim, now_ms(), LEASE_MS))
    chosen = options.audio_config() if item.endpoint == "audio" else options.video_config()
    config = json.dumps(chosen)
    uploads = [Upload("file", LocalFile(Path(p.path), p.size), _type(item)) for p in item.parts]
    parts = [("config", config, "application/json")] if config != "{}" else []
    try:
        response = yield sends.request("POST", f"/v1/expression/{item.endpoint}/file", uploads=uploads,
                                       parts=parts, creates=True)  # fmt: skip
        reply = read_json(response, f"Hume {item.endpoint} upload reply")
        model: type[AudioReply | VideoReply] = AudioReply if item.endpoint == "audio" else VideoReply
        remote = structure(reply, model, f"Hume {item.endpoint} upload reply").run_id
    except (AmbiguousSubmissionError, ResponseFormatError) as exc:
        billed = yield from sends.billing(item, intent)
        reason = f"{exc.reason if isinstance(exc, AmbiguousSubmissionError) else exc}; {billed}"
        yield Blocking(lambda: journal.ambiguous(claim, reason, now_ms(), 0.0))
        return
    except BatchkitError as exc:
        refused = str(exc)
        yield Blocking(lambda: journal.failed(claim, refused))
        return
    yield Blocking(lambda: journal.answered(claim, remote, JobStatus.SUCCEEDED.value, reply))
    for part in item.parts:  # a converted copy is no longer needed once its reply is kept
        if part.converted:
            Path(part.path).unlink(missing_ok=True)


def _type(item: Item) -> str:
    return "audio/wav" if item.endpoint == "audio" else "image/jpeg"


# -- the job as it stands ---------------------------------------------------------------------------


def status_of(chunks: Sequence[Chunk]) -> JobStatus:
    states = [c.state for c in chunks]
    done, failed = states.count(ChunkState.DONE), sum(s in (ChunkState.FAILED, ChunkState.AMBIGUOUS) for s in states)
    if done + failed < len(states):
        return JobStatus.QUEUED if not done + failed and ChunkState.SENDING not in states else JobStatus.RUNNING
    return JobStatus.SUCCEEDED if not failed else JobStatus.FAILED if not done else JobStatus.PARTIALLY_FAILED


def job_of(name: str, run: Run, chunks: Sequence[Chunk]) -> BatchJob:
    status = status_of(chunks)
    results = file_results(name, run, chunks)
    ok = sum(r.status is JobStatus.SUCCEEDED for r in results)
    problems = [c.error for c in chunks if c.error and c.state != ChunkState.DONE]
    answered = [c.state for c in chunks].count(ChunkState.DONE)
    return BatchJob(name, run.id, status, status.value,
                    created_at=dt.datetime.fromtimestamp(run.created_ms / 1000, dt.timezone.utc),
                    total_count=len(results), succeeded_count=ok,
                    failed_count=sum(r.status is JobStatus.FAILED for r in results),
                    message="; ".join(problems[:3]) or None,
                    raw={"requests": len(chunks), "answered": answered})  # fmt: skip


def read_job(journal: Journal, name: str, job_id: str) -> tuple[Run, list[Chunk]]:
    try:
        run = journal.run(job_id)
    except InputError:
        raise NotFoundError(name, 404, f"no {name} job {job_id} in the journal {journal.where} (`jobs` lists Hume's "
                            "own runs, one per upload request, which have no status here; batchkit's jobs are the "
                            "runs `batchkit runs --journal J` lists)") from None  # fmt: skip
    return run, journal.chunks(job_id)


def file_results(name: str, run: Run, chunks: Sequence[Chunk]) -> list[FileResult[Any]]:
    """One result per input file, assembled from its requests' replies (times on the file's own timeline)."""
    spec = run.spec or {}
    items = [cattrs.structure(i, Item) for i in spec.get("items", [])]
    names: list[str] = list(spec.get("names", []))
    gathered: list[dict[str, Any]] = [{"utterances": [], "measurements": [], "frames": [], "errors": [],
                                       "pending": 0, "answered": 0, "requests": [], "runs": [],
                                       "kinds": set()} for _ in names]  # fmt: skip
    for chunk, item in zip(chunks, items, strict=True):
        for part in item.parts:
            gathered[part.file]["kinds"].add(
                "audio" if item.endpoint == "audio" else "video" if part.frame else "image"
            )
        for f in {p.file for p in item.parts}:
            g = gathered[f]
            if chunk.state == ChunkState.DONE:
                g["answered"] += 1
            elif chunk.state in (ChunkState.FAILED, ChunkState.AMBIGUOUS):
                g["errors"].append(chunk.error or chunk.state)
            else:
                g["pending"] += 1
        if chunk.state != ChunkState.DONE or not isinstance(chunk.reply, dict):
            continue
        _spread(chunk.reply, item, gathered)
    return [_result(name, n, g) for n, g in zip(names, gathered, strict=True)]


def _spread(reply: dict[str, Any], item: Item, gathered: list[dict[str, Any]]) -> None:
    """An item's reply, shifted onto each input file's timeline."""
    if item.endpoint == "audio":
        part = item.parts[0]
        g, shift = gathered[part.file], part.start_ms
        audio = structure(reply, AudioReply, "Hume audio reply")
        base = len(g["utterances"])
        for u in audio.utterances:
            g["utterances"].append(Utterance(u.utterance_id + base, u.audio_start_ms + shift, u.audio_end_ms + shift))
        for m in audio.measurements:
            g["measurements"].append(attrs.evolve(m, measurement_id=len(g["measurements"]),
                                                  utterance_id=m.utterance_id + base,
                                                  audio_start_ms=m.audio_start_ms + shift,
                                                  audio_end_ms=m.audio_end_ms + shift))  # fmt: skip
    else:
        video = structure(reply, VideoReply, "Hume video reply")
        for position, frame in enumerate(video.measurements):  # one per image, in part order
            if position < len(item.parts):
                part = item.parts[position]
                g = gathered[part.file]
                g["frames"].append(Frame(len(g["frames"]), frame.faces, part.start_ms if part.frame else None))
                g["face_state"] = video.face_state
    for part in item.parts:
        g = gathered[part.file]
        g["requests"].append(str(reply.get("request_id", "")))
        g["runs"].append(str(reply.get("run_id", "")))


def _result(name: str, source: str, g: dict[str, Any]) -> FileResult[Any]:
    if g["pending"]:
        status = JobStatus.RUNNING if g["answered"] else JobStatus.QUEUED
    elif g["errors"]:
        status = JobStatus.PARTIALLY_FAILED if g["answered"] else JobStatus.FAILED
    else:
        status = JobStatus.SUCCEEDED
    kinds = g["kinds"]
    prediction = ExpressionPrediction(
        "video" if "video" in kinds else "image" if "image" in kinds else "audio",
        tuple(g["utterances"]), tuple(g["measurements"]), tuple(g["frames"]), g.get("face_state"),
        tuple(dict.fromkeys(g["requests"])), tuple(dict.fromkeys(g["runs"])),
    )  # fmt: skip
    raw = {"source": source, **cattrs.unstructure(prediction)}
    error = "; ".join(dict.fromkeys(g["errors"])) or None
    return FileResult(source, status, error, prediction if g["answered"] else None, raw, name)


def restore(name: str, raw: Any) -> FileResult[Any]:
    """A result again from the raw form :func:`file_results` gave it."""
    data = dict(raw) if isinstance(raw, dict) else {}
    source = str(data.pop("source", ""))
    prediction = structure(data, ExpressionPrediction, "kept hume-expression result")
    return FileResult(source, JobStatus.UNKNOWN, prediction=prediction, raw=raw, provider=name)


__all__ = ["Sends", "file_results", "job_of", "read_job", "record", "restore", "send_all"]
