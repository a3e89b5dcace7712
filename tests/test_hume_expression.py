"""``hume-expression``: Hume's successor API as a batch batchkit keeps. Media conversion (with and
without PyAV), limits, the journal-kept job and its results, resuming, ambiguous uploads and the run
list, retries, the run list as ``list()``, and the emulator's checks."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest

import batchkit
from batchkit import JobStatus
from batchkit.emulator import EMULATOR_KEY, FaultKind
from tests import media_files

pytest.importorskip("av", reason="PyAV (batchkit[media]) makes the test media")
AUDIO = "POST /v1/expression/audio/file"
VIDEO = "POST /v1/expression/video/file"


@pytest.fixture
def hx(emulated, tmp_path: Path):
    """A ``hume-expression`` client of each kind on the emulator, its journal in ``tmp_path``."""
    return emulated("hume-expression", journal=str(tmp_path / "journal.db"))


class Crash(BaseException):
    """A process dying (not an error anything catches)."""


def uploads(emu, endpoint: str = "") -> list:
    return [r for r in emu.requests if r.method == "POST" and endpoint in r.path]


def test_every_kind_of_media_is_measured_on_its_own_timeline(hx, emu, tmp_path: Path) -> None:
    files = [
        media_files.wav(tmp_path / "ready.wav", 5),
        media_files.wav(tmp_path / "cd.wav", 3, rate=44_100, channels=2),
        media_files.audio(tmp_path / "talk.mp3", 4),
        media_files.audio(tmp_path / "talk.flac", 2, codec="flac"),
        media_files.image(tmp_path / "face.jpg"),
        media_files.image(tmp_path / "face.png", codec="png"),
        media_files.image(tmp_path / "face.webp", codec="libwebp"),
        media_files.audio(tmp_path / "talk.m4a", 2, codec="aac"),
        media_files.video(tmp_path / "clip.mp4", 3, fps=10),
    ]
    job = hx.submit(files, options={"face": {"threshold": 0.5}, "frames_per_second": 2})
    assert job.status is JobStatus.SUCCEEDED
    assert job.id.startswith("run-")
    results = {Path(r.source).name: r for r in hx.results(job)}
    assert [r.source for r in results.values()] == [str(p) for p in files]  # the paths as given
    kinds = {name: r.prediction.kind for name, r in results.items()}
    assert kinds == {"ready.wav": "audio", "cd.wav": "audio", "talk.mp3": "audio", "talk.flac": "audio",
                     "face.jpg": "image", "face.png": "image", "face.webp": "image", "talk.m4a": "audio",
                     "clip.mp4": "video"}  # fmt: skip
    ready = [r for r in emu.requests if r.path.endswith("/audio/file") and r.parts[0][2] == files[0].stat().st_size]
    assert ready, "an acceptable WAV goes as it is"
    clip = results["clip.mp4"].prediction
    assert [f.time_ms for f in clip.frames] == [0, 500, 1000, 1500, 2000, 2500]  # 2 a second
    assert clip.measurements, "the video's soundtrack is measured too"
    rows = list(batchkit.rows(results.values()))
    assert {r["kind"] for r in rows} >= {"emotion", "voice_attribute", "description"}
    assert {r["model"] for r in rows if r["kind"] == "voice_attribute"} == {"voice"}
    times = {r["begin"] for r in rows if Path(r["source"]).name == "clip.mp4" and r["model"] == "face"}
    assert times  # the emulator finds 0 to 2 faces a frame, by the frame's bytes
    assert times <= {0.0, 0.5, 1.0, 1.5, 2.0, 2.5}
    assert not (tmp_path / "journal.db.media").exists() or not any((tmp_path / "journal.db.media").rglob("*.*"))


def test_without_pyav_only_what_the_api_takes_goes(hx, emu, tmp_path: Path, monkeypatch) -> None:
    mp3 = media_files.audio(tmp_path / "talk.mp3", 1)
    ready, face = media_files.wav(tmp_path / "ready.wav", 1), media_files.image(tmp_path / "face.jpg")
    monkeypatch.setitem(sys.modules, "av", None)  # as if batchkit[media] were not installed
    with pytest.raises(batchkit.InputError, match=r"talk\.mp3.*batchkit\[media\]"):
        hx.submit([ready, mp3])
    assert uploads(emu) == []
    job = hx.submit([ready, face])
    assert job.status is JobStatus.SUCCEEDED


def test_limits_are_checked_before_anything_is_sent(hx, emu, tmp_path: Path) -> None:
    big = media_files.image(tmp_path / "big.jpg", 4000, 2100)  # 8,400,000 pixels
    with pytest.raises(batchkit.InputError, match="8294400"):
        hx.submit([media_files.wav(tmp_path / "a.wav", 1), big])
    heavy = tmp_path / "heavy.jpg"
    heavy.write_bytes(media_files.image(tmp_path / "x.jpg").read_bytes() + b"\0" * 2_000_001)
    with pytest.raises(batchkit.InputError, match="2000000"):
        hx.submit([heavy])
    with pytest.raises(batchkit.InputError, match="measurement_timer_ms"):
        hx.submit([tmp_path / "a.wav"], options={"measurement_timer_ms": 20_000})
    with pytest.raises(batchkit.InputError, match="unknown option 'timer_ms'"):
        hx.submit([tmp_path / "a.wav"], options={"timer_ms": 3000})
    with pytest.raises(batchkit.InputError, match="no urls"):
        hx.submit(urls=["https://example.com/a.wav"])
    assert uploads(emu) == []


def test_long_audio_is_cut_and_its_times_shifted_back(hx, emu, tmp_path: Path) -> None:
    long = media_files.wav(tmp_path / "long.wav", 14 * 60)  # 26.9 MB: two requests
    job = hx.submit([long], options={"measurement_timer_ms": 10_000})
    assert len(uploads(emu, "audio")) == 2
    [result] = hx.results(job)
    ends = [m.audio_end_ms for m in result.prediction.measurements]
    assert ends == sorted(ends)
    assert ends[-1] == pytest.approx(14 * 60 * 1000, abs=50)
    assert [m.measurement_id for m in result.prediction.measurements] == list(range(len(ends)))
    assert len(result.prediction.utterances) == 2


def test_a_job_is_read_again_from_the_journal_and_works_everywhere(emulated, hx, emu, tmp_path: Path) -> None:
    job = hx.submit([media_files.wav(tmp_path / "a.wav", 4), media_files.image(tmp_path / "b.jpg")])
    again = emulated("hume-expression", journal=str(tmp_path / "journal.db"))
    assert again.get(job.id).status is JobStatus.SUCCEEDED
    assert again.wait(job.id).total_count == 2
    assert [r.source for r in again.iter_results(job.id)] == ["a.wav", "b.jpg"]
    requests = len(emu.requests)
    assert hx.submit([tmp_path / "a.wav", tmp_path / "b.jpg"]).id == job.id  # answered: nothing sent again
    assert len(emu.requests) == requests
    with pytest.raises(batchkit.NotFoundError):
        again.get("run-0000000000000000")


def test_a_crash_between_reply_and_journal_is_ambiguous_and_says_it_was_billed(hx, emu, tmp_path: Path,
                                                                               monkeypatch) -> None:  # fmt: skip
    from batchkit._kernel.journal import Journal

    files = [media_files.wav(tmp_path / f"{n}.wav", n + 1) for n in range(3)]
    kept = Journal.answered
    calls = []

    def crash_on_the_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Crash  # the process dies with the reply in hand
        return kept(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "answered", crash_on_the_second)
    with pytest.raises(Crash):
        hx.submit(files)
    monkeypatch.setattr(Journal, "answered", kept)
    [run] = batchkit.runs.progress(tmp_path / "journal.db")
    book = Journal(tmp_path / "journal.db")
    states = [c.state for c in book.chunks(run.run.id)]
    book.close()
    lost = states.count("sending")  # perhaps sent, the reply not kept: the one that crashed, perhaps another
    assert states.count("done") >= 1
    assert lost >= 1
    with pytest.raises(batchkit.AmbiguousSubmissionError, match=r"it was billed: run \S+, 10 metered seconds") as info:
        hx.submit(files)
    assert f"{lost} upload(s) lost their reply" in str(info.value)
    assert emu.created("hume-expression") <= 3  # nothing answered or lost went again
    job = hx.submit(files, options={"resend_ambiguous": True})
    assert job.status is JobStatus.SUCCEEDED
    assert emu.created("hume-expression") <= 3 + lost
    assert len(hx.results(job)) == 3


def test_a_lost_reply_is_never_resent_by_itself(hx, emu, tmp_path: Path) -> None:
    emu.faults.add(AUDIO, FaultKind.DROP_AFTER_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="it was billed") as info:
        hx.submit([media_files.wav(tmp_path / "a.wav", 2), media_files.image(tmp_path / "b.jpg")])
    assert "resend_ambiguous" in str(info.value)
    assert len(uploads(emu, "audio")) == 1
    [job_id] = re.findall(r"job (run-[0-9a-f]+)", str(info.value))  # the job is not forgotten
    assert hx.get(job_id).status is JobStatus.PARTIALLY_FAILED  # the image was answered, the audio lost
    emu.faults.add(AUDIO, FaultKind.DROP_BEFORE_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="no billed run"):
        hx.submit([media_files.wav(tmp_path / "c.wav", 3)])


def test_429_and_5xx_measure_nothing_and_are_retried(hx, emu, tmp_path: Path) -> None:
    emu.faults.add(AUDIO, FaultKind.STATUS, status=503)
    emu.faults.add(VIDEO, FaultKind.RATE_LIMIT, retry_after=0)
    job = hx.submit([media_files.wav(tmp_path / "a.wav", 1), media_files.image(tmp_path / "b.jpg")])
    assert job.status is JobStatus.SUCCEEDED
    assert [r.status for r in uploads(emu)].count(200) == 2
    assert emu.created("hume-expression") == 2


def test_a_run_the_list_shows_is_answered_by_get(hx, emu, tmp_path: Path) -> None:
    """``list()`` gives Hume's own runs (one per request): ``get`` of one asks Hume for it; an id neither
    the journal nor Hume knows is still a NotFoundError that says what ``jobs`` lists."""
    hx.submit([media_files.wav(tmp_path / "a.wav", 1)])
    [run] = hx.list(limit=10)  # one request, one of Hume's runs
    assert hx.get(run.id).status is JobStatus.SUCCEEDED
    assert any(r.path == f"/v1/expression/run/{run.id}" for r in emu.requests)
    with pytest.raises(batchkit.NotFoundError, match="`jobs` lists"):
        hx.get("no-such-run")


def test_list_reads_the_run_list_with_filters_and_cursor(hx, emu, tmp_path: Path, monkeypatch) -> None:
    hx.submit([media_files.wav(tmp_path / f"{n}.wav", 1) for n in range(3)] + [media_files.image(tmp_path / "f.jpg")])
    import batchkit.providers.hume_expression as provider

    monkeypatch.setattr(provider, "PAGE_SIZE", 2)
    runs = list(hx.list(limit=10, endpoint="audio"))
    assert len(runs) == 3
    assert all(r.raw["endpoint"] == "audio" and r.status is JobStatus.SUCCEEDED for r in runs)
    assert any("cursor=" in r.query for r in emu.requests if r.path == "/v1/expression/run")
    assert len(list(hx.list(limit=10, mode="file"))) == 4
    with pytest.raises(batchkit.InputError, match="unknown filter"):
        list(hx.list(limit=1, since="yesterday"))


def test_the_emulator_checks_uploads_as_the_api_does(emu, tmp_path: Path) -> None:
    key = {"X-Hume-Api-Key": EMULATOR_KEY}
    url = f"{emu.base_url}/v1/expression"

    def post(endpoint: str, files: list, config: dict | None = None) -> httpx.Response:
        data = {"config": json.dumps(config)} if config is not None else None
        return httpx.post(f"{url}/{endpoint}/file", headers=key, files=files, data=data)

    mp3 = media_files.audio(tmp_path / "a.mp3", 1).read_bytes()
    assert post("audio", [("file", ("a.mp3", mp3))]).json()["code"] == "unsupported_media_type"
    cd = media_files.wav(tmp_path / "cd.wav", 1, rate=44_100).read_bytes()
    assert post("audio", [("file", ("cd.wav", cd))]).json()["code"] == "audio_decode_failed"
    assert post("audio", [("file", ("odd.raw", b"abc"))]).json()["code"] == "audio_decode_failed"
    bad = post("audio", [("file", ("ok.raw", b"\0\0" * 16000))], {"timer_ms": 3000})
    assert (bad.status_code, bad.json()["code"]) == (400, "config_invalid")
    assert "unknown field `timer_ms`" in bad.json()["message"]
    png = media_files.image(tmp_path / "a.png", codec="png").read_bytes()
    jpg = media_files.image(tmp_path / "a.jpg").read_bytes()
    assert post("video", [("file", ("a.jpg", jpg)), ("file", ("a.png", png))]).status_code == 415
    ok = post("video", [("file", ("a.jpg", jpg)), ("file", ("b.jpg", jpg))], {"face": {"return_face_state": True}})
    body = ok.json()
    assert [m["frame_id"] for m in body["measurements"]] == [0, 1]
    assert body["face_state"]
    run = httpx.get(f"{url}/run/{body['run_id']}", headers=key).json()
    assert (run["endpoint"], run["mode"], run["metered_seconds"]) == ("video", "file", 10.0)
    assert httpx.get(f"{url}/run/{body['run_id']}/events", headers=key).json()["events"] == []
    assert httpx.get(f"{url}/run/nope", headers=key).status_code == 404
    assert httpx.get(f"{url}/run").status_code == 401
    assert "type" not in httpx.get(f"{url}/run").json()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK imports websockets' legacy names
def test_hume_expression_sdk_against_the_emulator(emu, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sdk = pytest.importorskip("hume_expression_measurement",
                              reason="Hume's SDK for this API (hume-expression-measurement) is not installed")  # fmt: skip
    from hume_expression_measurement.environment import ExpressionMeasurementClientEnvironment

    where = ExpressionMeasurementClientEnvironment(base=emu.base_url, production=emu.base_url.replace("http", "ws"))
    http = httpx.Client(timeout=10)
    request.addfinalizer(http.close)
    client = sdk.ExpressionMeasurementClient(api_key=EMULATOR_KEY, environment=where, max_retries=0, httpx_client=http)
    audio = client.audio.measure(file=media_files.wav(tmp_path / "a.wav", 4).read_bytes())
    assert audio.measurements
    assert audio.received.audio_duration_ms == 4000
    jpg = media_files.image(tmp_path / "a.jpg").read_bytes()
    video = client.video.measure(file=[jpg, jpg], config={"face": {"threshold": 0.5, "return_face_state": True}})
    assert [m.frame_id for m in video.measurements] == [0, 1]
    listed = [r.run_id for r in client.runs.list(mode="file").runs]
    assert audio.run_id in listed
    assert video.run_id in listed
    run = client.runs.get(audio.run_id)
    assert run.metered_seconds == 10
    assert run.status == "ended"


def test_a_job_kept_in_postgresql(emulated, emu, postgres_url: str, tmp_path: Path) -> None:
    client = emulated("hume-expression", journal=postgres_url)
    job = client.submit([media_files.wav(tmp_path / "a.wav", 2), media_files.image(tmp_path / "b.jpg")])
    assert job.status is JobStatus.SUCCEEDED
    assert [r.status for r in client.results(job.id)] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    kept = batchkit.runs.results(postgres_url, job.id)  # what `batchkit results --journal … --run …` reads
    assert [r.source for r in kept] == [str((tmp_path / "a.wav").resolve()), str((tmp_path / "b.jpg").resolve())]
    assert [r.prediction.kind for r in kept] == ["audio", "image"]
    assert [r.status for r in kept] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]


def test_workers_on_hosts_with_their_own_data_directories_finish_a_run(emulated, emu, tmp_path: Path,
                                                                         monkeypatch) -> None:  # fmt: skip
    """An ordinary run: enqueued into a shared journal, worked by a worker that dies after its first
    upload, finished by a worker whose data directory is another (as on another host). The upload
    whose reply died with the first worker is never sent again; the others are sent once."""
    from batchkit._kernel.journal import Journal

    shared = str(tmp_path / "shared.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "hostA"))
    files = [media_files.wav(tmp_path / f"{n}.wav", n + 1) for n in range(3)]
    run = emulated("hume-expression").enqueue(files, journal=shared)
    kept, calls = Journal.answered, []

    def crash_on_the_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise Crash
        return kept(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "answered", crash_on_the_first)
    with pytest.raises(Crash):
        emulated("hume-expression").work(shared, until_done=True, concurrency=1)
    monkeypatch.setattr(Journal, "answered", kept)
    assert len(uploads(emu)) == 1
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "hostB"))
    summary = emulated("hume-expression").work(shared, until_done=True)
    assert (summary.sent, summary.lost) == (2, 0)
    assert summary.ambiguous >= 1  # looked for (the run list) a few times, never sent
    assert len(uploads(emu)) == 3
    results = batchkit.runs.results(shared, run)
    assert [r.status for r in results] == [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    assert "it was billed" in (results[0].error or "")
    assert not (tmp_path / "hostB" / "batchkit" / "journal.db").exists(), "no second run in a worker's own journal"


def test_submit_with_no_journal_keeps_its_run_in_the_default_journal(emulated, emu, tmp_path: Path) -> None:
    client = emulated("hume-expression")
    job = client.submit([media_files.wav(tmp_path / "a.wav", 2)])
    assert job.status is JobStatus.SUCCEEDED
    assert [r.status for r in client.results(job.id)] == [JobStatus.SUCCEEDED]
    default = Path(batchkit._kernel.journal.default_journal())
    assert [p.run.id for p in batchkit.runs.progress(default)] == [job.id]


def test_another_providers_run_is_not_a_job_of_it(emulated, hx, emu, media, tmp_path: Path) -> None:
    run = emulated("resemble").enqueue([media("a.wav")], journal=str(tmp_path / "journal.db"))
    for ask in (hx.get, hx.results, hx.wait):
        with pytest.raises(batchkit.NotFoundError, match="resemble run"):
            ask(run)


@pytest.mark.long
def test_billing_is_read_back_to_the_intent_across_pages(hx, emu, tmp_path: Path) -> None:
    """A lost reply's billing is looked up through every page of the run list since its intent (newer
    runs push it off the first page); a run still live means it cannot tell."""
    from batchkit.providers.hume_expression.emulator import RunRecord

    emu.faults.add(AUDIO, FaultKind.DROP_AFTER_BODY)
    files = [media_files.wav(tmp_path / "a.wav", 2)]
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="it was billed"):
        hx.submit(files)
    fake = emu.fakes["hume-expression"]
    [billed] = fake.runs
    newer = [RunRecord(f"newer-{n}", "audio", billed.started_at, 7, 10.0, {}) for n in range(150)]
    fake.runs.extend(newer)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match=rf"it was billed: run {billed.run_id}"):
        hx.submit(files)
    newer[-1].status = "live"
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="cannot tell whether it was billed: a run"):
        hx.submit(files)
    emu.faults.add("GET /v1/expression/run", FaultKind.STATUS, status=400, after=1)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="cannot tell whether it was billed: the run list"):
        hx.submit(files)
    assert emu.created("hume-expression") == 1


def test_a_journal_of_schema_6_opens_and_its_own_runs_become_ordinary(emulated, emu, tmp_path: Path) -> None:
    """A hume-expression job kept by schema 6 (a ``local`` run, its plan in the provider's form) is, after
    migrating, a run any worker serves and the client reads."""
    import sqlite3

    from batchkit._kernel.journal import SCHEMA_VERSION, Journal

    path = tmp_path / "six.db"
    client = emulated("hume-expression", journal=str(path))
    audio = media_files.wav(tmp_path / "a.wav", 2)
    job = client.submit([audio])
    with sqlite3.connect(path) as db:  # back to how schema 6 kept it
        [(spec,)] = db.execute("SELECT spec FROM runs").fetchall()
        new = json.loads(spec)
        old = {"items": [r["spec"] for r in new["requests"]], "options": new["inputs"].get("options"),
               "names": new["names"]}  # fmt: skip
        db.execute("ALTER TABLE runs ADD COLUMN local INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE runs SET spec = ?, local = 1", (json.dumps(old),))
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema'")
    db.close()
    Journal(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)
        assert db.execute("SELECT local FROM runs").fetchall() == [(0,)]
    db.close()
    assert client.get(job.id).status is JobStatus.SUCCEEDED
    assert [r.source for r in client.results(job.id)] == [str(audio)]


def test_a_journal_of_schema_4_gains_replies(tmp_path: Path) -> None:
    import sqlite3

    from batchkit._kernel.journal import SCHEMA_VERSION, Journal
    from batchkit._kernel.journal.schema import TABLES

    path = tmp_path / "four.db"
    with sqlite3.connect(path) as db:
        old = TABLES.replace("    reply TEXT, PRIMARY", "    PRIMARY")
        db.executescript(old.format(int="INTEGER", real="REAL"))
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '4')")
    db.close()
    Journal(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)
        assert "reply" in [c[1] for c in db.execute("PRAGMA table_info(chunks)")]
    db.close()


class SlowUpload(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The emulator's transport, where an upload stays on its way while ``meanwhile`` runs (in a thread,
    so the event loop stays free)."""

    def __init__(self, kind: str, meanwhile) -> None:
        self._inner = httpx.AsyncHTTPTransport() if kind == "async" else httpx.HTTPTransport()
        self._meanwhile = meanwhile

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self._meanwhile()
        return self._inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        if request.method == "POST":
            await asyncio.to_thread(self._meanwhile)
        return await self._inner.handle_async_request(request)

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_a_slow_upload_keeps_its_claim(make_client, emu, tmp_path: Path) -> None:
    """An upload that takes 3 s (of the client's clock) under a 1 s lease: its chunk's lease is renewed
    meanwhile, so no other submit or worker takes the upload over, and its reply is kept (H5)."""
    from tests.test_executors_agree import HeldClock, held_for_3s

    clock, journal = HeldClock(), str(tmp_path / "shared.db")
    run = make_client("hume-expression", api_key=EMULATOR_KEY, base_url=emu.base_url).enqueue(
        [media_files.wav(tmp_path / "a.wav", 2)], journal=journal)
    stolen: list = []
    transport = SlowUpload(make_client.kind, lambda: stolen.append(held_for_3s(clock, journal, run)))
    http = httpx.AsyncClient(transport=transport) if make_client.kind == "async" else httpx.Client(transport=transport)
    client = make_client("hume-expression", api_key=EMULATOR_KEY, base_url=emu.base_url, clock=clock, http_client=http)
    try:
        summary = client.work(journal, until_done=True, lease=1, concurrency=1)
    finally:
        client._loop.run_until_complete(http.aclose()) if make_client.kind == "async" else http.close()
    assert stolen == [None], "the upload's lease ran out while it was on its way"
    assert (summary.sent, summary.lost) == (1, 0)
    assert [r.status for r in batchkit.runs.results(journal, run)] == [JobStatus.SUCCEEDED]
