"""Defects found by the second attack on batchkit, each with its test (issue 23: Hardening II)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import batchkit
from batchkit._kernel.clock import FakeClock
from batchkit._kernel.journal import Journal, Scope
from batchkit._kernel.steps import Call
from batchkit.emulator import FaultKind

# -- Resemble finds only its own interrupted batch (H1, M8) ------------------------------------------


def _write(path: Path, content: bytes = b"x" * 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_h1_an_interrupted_resemble_chunk_never_adopts_another_chunks_detects(emulated, emu, tmp_path: Path) -> None:
    files = [_write(tmp_path / "day1" / "call.wav"), _write(tmp_path / "day2" / "call.wav")]
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY, after=1)  # chunk 1 never arrives
    client = emulated("resemble")
    with pytest.raises(batchkit.AmbiguousSubmissionError) as info:
        client.submit_many(files, journal=tmp_path / "run.db", chunk=1)
    first, second = info.value.group.chunks
    assert (first.state, second.state) == ("sent", "ambiguous")
    assert not set(first.children) & set(second.children)
    group = client.submit_many(files, journal=tmp_path / "run.db", chunk=1, resend_ambiguous=True)
    assert emu.created("resemble") == 2
    assert len({c.job_id for c in group.chunks}) == 2


def test_h1_another_runs_detects_are_not_adopted_either(emulated, emu, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    client = emulated("resemble")
    client.submit_many([_write(tmp_path / "day1" / "call.wav")], journal=journal)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        client.submit_many([_write(tmp_path / "day2" / "call.wav", b"y" * 10)], journal=journal)
    assert emu.created("resemble") == 1


def test_h1_detects_made_with_other_options_or_before_the_intent_are_not_adopted(emulated, emu,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    files = [_write(tmp_path / "a.wav")]
    client = emulated("resemble")
    client.submit(files, options={"visualize": False})  # someone else's, with other options, just before
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        client.submit_many(files, journal=tmp_path / "one.db")
    client.submit(files)  # the same options, but made half a minute before the intent
    for detect in emu.fakes["resemble"].detects.values():
        detect.created -= 30
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        client.submit_many(files, journal=tmp_path / "two.db")
    assert emu.created("resemble") == 2


def test_h1_a_chunk_whose_body_arrived_is_still_adopted_with_its_options(emulated, emu, tmp_path: Path) -> None:
    files = [_write(tmp_path / "a.wav"), _write(tmp_path / "b.mp3")]
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_AFTER_BODY)
    group = emulated("resemble").submit_many(files, journal=tmp_path / "run.db", options={"visualize": False})
    assert [c.state for c in group.chunks] == ["sent"]
    assert group.chunks[0].job_id.startswith("adopted-")
    assert emu.created("resemble") == 1


def test_m8_resemble_names_with_quotes_tabs_and_newlines_are_found_again(emulated, emu, tmp_path: Path) -> None:
    files = [_write(tmp_path / 'say "hi".wav'), _write(tmp_path / "tab\there.wav"), _write(tmp_path / "new\nline.wav")]
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_AFTER_BODY)
    group = emulated("resemble").submit_many(files, journal=tmp_path / "run.db")
    assert [c.state for c in group.chunks] == ["sent"]
    assert group.chunks[0].job_id.startswith("adopted-")
    assert emu.created("resemble") == 1


# -- the journal and the shared rate (H6, H7, H8) -----------------------------------------------------


def _legacy_journal(path: Path, files: list[Path], job_id: str) -> None:
    """A journal of schema 1: one submission, chunk 0 sent (``job_id``), chunk 1 planned."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE chunks (idx INTEGER PRIMARY KEY, files TEXT NOT NULL, state TEXT NOT NULL,"
            " job_id TEXT, intent_ms INTEGER, error TEXT);"
        )
        db.execute("INSERT INTO meta VALUES ('fingerprint', 'f' )")
        db.execute("INSERT INTO chunks VALUES (0, ?, 'sent', ?, 1, NULL), (1, ?, 'planned', NULL, NULL, NULL)",
                   (json.dumps([str(p) for p in files[:1]]), job_id, json.dumps([str(p) for p in files[1:]])))  # fmt: skip


def test_h7_a_migrated_sent_chunk_is_claimed_when_it_is_said_to_be_due(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _legacy_journal(path, [_write(tmp_path / "a.wav"), _write(tmp_path / "b.wav")], "batch-1")
    journal = Journal(path)
    try:
        [run] = journal.runs()
        journal.record_run("resemble", run.run.fingerprint, {"inputs": {}}, [], [], 0)  # submit_many resumes it
        scope, now = Scope("resemble"), 10_000_000
        assert journal.next_due(scope, now) <= now
        first = journal.claim("w1", scope, now, 30_000)
        second = journal.claim("w2", scope, now, 30_000)
        assert sorted(c.chunk.state for c in (first, second) if c is not None) == ["planned", "sent"]
        assert journal.next_due(scope, now) > now  # both held now
    finally:
        journal.close()


def test_h8_a_429_of_thirty_days_pauses_every_worker_only_as_long_as_the_retry_policy_would(tmp_path: Path) -> None:
    from batchkit._orchestration.sending import Sender
    from batchkit._orchestration.shared_rate import SharedRate
    from batchkit.providers.hume import HumeProvider

    clock, journal = FakeClock(), Journal(tmp_path / "j.db")
    try:
        gate = SharedRate(journal, "hume:k", 1.0, clock)
        policy = batchkit.RetryPolicy(retry_after_max=120.0)
        sender = Sender(HumeProvider("https://x.test"), policy, httpx.Timeout(1), clock, gate=gate)
        op = sender.send(Call("POST", "https://x.test", "/v0/batch/jobs", creates=True))
        step = next(op)
        while not isinstance(step, Call):
            step = op.send(step.fn())  # the rate token
        step = op.send(httpx.Response(429, headers={"Retry-After": str(30 * 86400)}))
        with pytest.raises(batchkit.RateLimitedError):
            op.send(step.fn())  # the shared pause is written, then the refusal raised
        paused = journal.take("hume:k", None, int(clock.time() * 1000))
        assert 0 < paused <= 120.0
    finally:
        journal.close()


class _Paused:
    """A psycopg connection whose session stops, as if SIGSTOPped, after its ``after``-th statement on
    the rates table (until ``go`` is set)."""

    def __init__(self, db: Any, after: int) -> None:
        self._db, self.after, self.stopped, self.go = db, after, threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def _seen(self, sql: str) -> None:
        if "rates" in sql:
            self.after -= 1
            if self.after == 0:
                self.stopped.set()
                self.go.wait()

    def execute(self, sql: str, params: Any = ()) -> Any:
        cursor = self._db.execute(sql, params)
        self._seen(sql)
        return cursor

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        with self._db.cursor() as real:
            outer = self

            class Cursor:
                def __getattr__(self, name: str) -> Any:
                    return getattr(real, name)

                def execute(self, sql: str, params: Any = ()) -> Any:
                    real.execute(sql, params)
                    outer._seen(sql)
                    return self

            yield Cursor()


class _One:
    """A store's pool that hands out one connection (a test's wrapped one)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        yield self.db


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_h6_a_worker_paused_inside_its_rate_step_does_not_stop_the_others(postgres_url: str) -> None:
    import psycopg

    paused_one, other = Journal(postgres_url), Journal(postgres_url)
    try:
        other.take("b", 1000.0, 1_000)  # the bucket exists
        pool = paused_one._store._pool
        real = pool.getconn()
        for after in range(1, 10):  # stopped after each of its statements in turn, until it has none left
            gate = _Paused(real, after)
            paused_one._store._pool = _One(gate)
            stopped, _ = _in_thread(functools.partial(paused_one.take, "b", 1000.0, 2_000 + after))
            while not gate.stopped.wait(0.05) and stopped.is_alive():
                pass
            if not gate.stopped.is_set():
                break
            taker, out = _in_thread(lambda: other.take("b", 1000.0, 3_000))
            with psycopg.connect(postgres_url, autocommit=True) as watch:
                while taker.is_alive():  # until it is done, or waits for a lock the stopped one holds
                    waiting = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                    if waiting.fetchone()[0]:
                        break
                    taker.join(0.05)
            taken = not taker.is_alive() and out and isinstance(out[0], float)
            gate.go.set()
            stopped.join()
            taker.join()
            assert taken, f"another worker waited on the rate row for one stopped after statement {after}"
        assert after > 2  # it was stopped after each of its statements
        paused_one._store._pool = pool
        pool.putconn(real)
    finally:
        paused_one.close()
        other.close()


def test_h6_a_sqlite_writer_stopped_with_the_lock_does_not_make_the_others_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from batchkit._kernel.journal import stores

    monkeypatch.setattr(stores, "BUSY_SECONDS", 0.05)
    path = tmp_path / "j.db"
    journal = Journal(path)
    stopped = sqlite3.connect(path, isolation_level=None)
    try:
        stopped.execute("BEGIN IMMEDIATE")  # a writer stopped (SIGSTOP) inside its transaction
        with caplog.at_level(logging.WARNING, logger="batchkit"):
            worker, out = _in_thread(lambda: journal.renew("w", 0, 1000))
            while worker.is_alive() and "locked by another process" not in caplog.text:
                worker.join(0.05)
            assert worker.is_alive(), out  # still waiting, not failed
            stopped.execute("ROLLBACK")  # it goes on
            worker.join()
        assert out == [0]
    finally:
        stopped.close()
        journal.close()


# -- rows batchkit did not write (M9) -------------------------------------------------------------------

_SPEC = "UPDATE runs SET spec = ? WHERE id = ?"
TAMPERED = {
    "an unknown spec key": (_SPEC, lambda spec: json.dumps({**spec, "inputs": {**spec["inputs"], "bogus": 1}})),
    "spec inputs as a list": (_SPEC, lambda spec: json.dumps({**spec, "inputs": [1, 2]})),
    "a non-numeric lease": ("UPDATE chunks SET owner = 'someone', lease_until_ms = 'soon' WHERE run_id = ?", None),
    "a non-numeric poll interval": ("UPDATE chunks SET state = 'sent', job_id = ?, next_poll_ms = 'now',"
                                    " poll_interval = 'often' WHERE run_id = ?", None),
    "a very deep result": ("UPDATE files SET status = 'succeeded', result = '" + "[" * 100_000 + "]" * 100_000
                           + "' WHERE run_id = ?", None),
    "an unknown job status": ("UPDATE chunks SET state = 'sent', job_id = ?, job_status = 'weird' WHERE run_id = ?",
                              None),
    "a file naming a missing chunk": ("UPDATE files SET chunk_idx = 7 WHERE run_id = ?", None),
}  # fmt: skip


def _results_or_journal_error(journal: Path, run: str) -> None:
    """The run's results, or a JournalError saying why they cannot be read (never another exception)."""
    error = None
    try:
        batchkit.runs.results(journal, run)
    except batchkit.JournalError as exc:
        error = str(exc)
    assert error is None or "did not write" in error


@pytest.mark.parametrize("what", sorted(TAMPERED))
def test_m9_a_row_batchkit_did_not_write_fails_its_run_and_the_worker_goes_on(emulated, emu, tmp_path: Path,
                                                                               what: str) -> None:  # fmt: skip
    journal = tmp_path / "j.db"
    client = emulated("resemble")
    bad = client.enqueue([_write(tmp_path / "bad" / "a.wav")], journal=journal)
    good = client.enqueue([_write(tmp_path / "good" / f"{n}.wav") for n in range(3)], journal=journal)
    sql, change = TAMPERED[what]
    job = client.submit([_write(tmp_path / "other" / "a.wav")]).id  # a job that exists, for rows naming one
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        if change is None:
            db.execute(sql, (job, bad) if sql.count("?") == 2 else (bad,))
        else:
            [(spec,)] = db.execute("SELECT spec FROM runs WHERE id = ?", (bad,)).fetchall()
            db.execute(sql, (change(json.loads(spec)), bad))
    _results_or_journal_error(journal, bad)
    client.work(journal, until_done=True)
    assert [r.status for r in batchkit.runs.results(journal, good)] == [batchkit.JobStatus.SUCCEEDED] * 3
    _results_or_journal_error(journal, bad)
    with contextlib.closing(sqlite3.connect(journal)) as db:
        rows = db.execute("SELECT state, error FROM chunks WHERE run_id = ?", (bad,)).fetchall()
    if what != "a non-numeric lease":  # a lease that cannot be read has ended: the chunk is sent
        assert [state for state, _ in rows] == ["failed"] or what in (
            "a very deep result",
            "a file naming a missing chunk",
        )
        assert any("did not write" in (error or "") for _, error in rows) or what == "a file naming a missing chunk"


# -- paths and folders (M10, L4) ------------------------------------------------------------------------


def test_m10_a_file_in_a_folder_whose_name_is_not_utf8_is_refused_clearly(emulated, emu, tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    path = Path(os.fsdecode(folder + b"/call.wav"))
    path.write_bytes(b"x" * 10)
    client = emulated("resemble")
    for call in (client.submit_many, client.enqueue):
        with pytest.raises(batchkit.InputError, match="not valid UTF-8") as info:
            call([path], journal=tmp_path / "j.db")
        assert not isinstance(info.value, batchkit.JournalError)
        assert "did not write" not in str(info.value)
    assert emu.created("resemble") == 0
    assert client.submit([path]).id  # one job needs no journal


def _as_someone_else(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by this venv's Python without the power to write what is read-only (root's bypass dropped)."""
    drop = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          cwd="/", env={**os.environ, "XDG_DATA_HOME": "/nonexistent"})  # fmt: skip


def test_l4_a_journal_in_a_read_only_folder_can_be_read(emulated, emu, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    try:
        files = [_write(folder / "media" / f"{n}.wav") for n in range(3)]
        journal = folder / "j.db"
        emulated("resemble").submit_many(files, journal=journal)
        for path in (folder, folder / "media", journal, *files):
            path.chmod(0o555 if path.is_dir() else 0o444)
        read = (
            "import sys, batchkit\ntry:\n    [p] = batchkit.runs.progress(sys.argv[1])\n    print(p.run.files)\n"
            "except batchkit.BatchkitError as exc:\n    sys.exit(f'{type(exc).__name__}: {exc}')"
        )
        done = _as_someone_else(read, str(journal))
        assert (done.returncode, done.stdout.strip()) == (0, "3"), done.stderr
        with contextlib.closing(sqlite3.connect(journal)) as db, db:  # now a journal of an older schema
            db.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
        done = _as_someone_else(read, str(journal))
        assert done.stderr.startswith("InputError: "), done.stderr
        assert "is read-only here and has schema 5" in done.stderr
        assert "not a usable" not in done.stderr
    finally:
        for path in folder.rglob("*"):
            path.chmod(0o755)
        folder.chmod(0o755)


# -- hume-expression media read from their headers (M13, M14) ---------------------------------------


def _png_header(width: int, height: int, depth: int = 8, color: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _webp_header(width: int, height: int) -> bytes:
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("name", "head"), [
    ("huge.png", _png_header(12000, 12000)),
    ("deep.png", _png_header(6000, 6000, depth=16, color=6)),
    ("huge.webp", _webp_header(16000, 16000)),
])  # fmt: skip
def test_m13_png_and_webp_dimensions_are_read_before_decoding(emulated, emu, tmp_path: Path, name: str, head: bytes,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from batchkit.providers.hume_expression import convert

    def decoded(*args: Any) -> Any:
        raise AssertionError("decoded in full")

    monkeypatch.setattr(convert, "image", decoded)
    path = _write(tmp_path / name, head + b"\0" * 4096)
    with pytest.raises(batchkit.InputError, match="pixels"):
        emulated("hume-expression", journal=str(tmp_path / "j.db")).submit([path])
    assert not [r for r in emu.requests if r.method == "POST"]


def test_m13_headers_are_read_as_pyav_writes_them(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from batchkit.providers.hume_expression.media import picture_size

    from . import media_files

    for codec, suffix in (("png", "png"), ("libwebp", "webp")):
        path = media_files.image(tmp_path / f"a.{suffix}", 320, 240, codec=codec)
        with open(path, "rb") as fh:
            assert picture_size(fh)[:2] == (320, 240)


def test_m14_a_wav_whose_fmt_chunk_claims_4_gb_is_not_read_whole() -> None:
    from batchkit.providers.hume_expression.media import wav_format

    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    data = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVE" + b"fmt " + struct.pack("<I", 0xFFFFFFF0) + fmt

    class Counted(io.BytesIO):
        largest = 0

        def read(self, size: int | None = -1) -> bytes:
            Counted.largest = max(Counted.largest, size if size is not None and size >= 0 else 1 << 40)
            return super().read(size)

    assert wav_format(Counted(data + b"\0" * 64)) is None  # its data chunk is past the end
    assert Counted.largest <= 1 << 16


# -- the emulator as a server (M17, M18) --------------------------------------------------------------


def _stream_until_answered(base_url: str, path: str, content_type: str, total: int, chunked: bool) -> tuple[str, int]:
    """POST ``total`` bytes a MiB at a time, stopping as soon as the server answers; (status line, bytes sent)."""
    url = httpx.URL(base_url)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nX-Hume-Api-Key: emulator-key\r\n"
            f"Authorization: Bearer emulator-key\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n")  # fmt: skip
    piece = b"a" * (1 << 20)
    sent = 0
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(head.encode())
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except OSError:  # the server closed its side after answering
                break
            sent += len(piece)
        sock.settimeout(60)
        try:
            answer = sock.recv(4096).decode("latin-1")
        except OSError:
            answer = ""
    return answer.split("\r\n", 1)[0], sent


@pytest.mark.parametrize(("path", "content_type", "limit"), [
    ("/v1/expression/audio/file", "multipart/form-data; boundary=x", 25 * 10**6),
    ("/v0/batch/jobs", "application/json", 16 << 20),
    ("/api/v2/detect", "application/json", 16 << 20),
])  # fmt: skip
@pytest.mark.parametrize("chunked", [True, False])
def test_m17_the_emulator_answers_413_as_soon_as_a_body_passes_its_limit(emu, path: str, content_type: str,
                                                                         limit: int, chunked: bool) -> None:  # fmt: skip
    status, sent = _stream_until_answered(emu.base_url, path, content_type, 4 * limit, chunked)
    assert " 413 " in status + " ", status
    assert sent < 3 * limit  # it did not read the rest first


def test_m18_the_emulator_refuses_another_interface_without_the_flag(tmp_path: Path) -> None:
    from batchkit.emulator import serve

    with pytest.raises(batchkit.InputError, match="allow_remote"), serve(host="0.0.0.0"):
        pass
    done = subprocess.run([sys.executable, "-m", "batchkit.cli", "emulator", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "--allow-remote" in done.stderr
    assert "Traceback" not in done.stderr


def test_m18_an_emulator_open_to_other_machines_posts_no_callbacks(emu, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchkit.emulator import Emulator, fake, serve, server

    assert fake.may_call_back(emu.state, "http://127.0.0.1:9/hook")  # served on loopback: its callers' hooks
    assert not fake.may_call_back(emu.state, "http://10.0.0.1/hook")

    @contextlib.contextmanager
    def bound(emulator: Any, host: str, port: int) -> Iterator[str]:  # no test listens beyond 127.0.0.1
        yield f"http://{host}:{port}"

    monkeypatch.setattr(server, "running", bound)
    with serve(Emulator(), host="0.0.0.0", port=1, allow_remote=True) as remote:
        assert not fake.may_call_back(remote.state, "http://127.0.0.1:9/hook")  # a blind request for anyone


# -- webhooks (L2, L3) --------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_l3_webhooks_parse_refuses_job_ids_batchkit_refuses_elsewhere(provider: str) -> None:
    from batchkit import webhooks

    bad = "../../x\r\nSet-Cookie: a=b"
    body = ({"job_id": bad, "status": "COMPLETED"} if provider == "hume"
            else {"success": True, "item": {"uuid": bad, "status": "completed"}})  # fmt: skip
    with pytest.raises(batchkit.ResponseFormatError, match="not a job id"):
        webhooks.parse(provider, json.dumps(body))
    good = (
        {**body, "job_id": "job-1"}
        if provider == "hume"
        else {"success": True, "item": {"uuid": "u-1", "status": "completed"}}
    )
    assert webhooks.parse(provider, json.dumps(good)).job.id in ("job-1", "u-1")


def test_l2_the_example_webhook_receiver_replies_to_a_body_with_any_text() -> None:
    import importlib.util
    from http.server import ThreadingHTTPServer

    spec = importlib.util.spec_from_file_location("webhook_receiver", Path(__file__).parent.parent / "examples"
                                                  / "webhook_receiver.py")  # fmt: skip
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    server = ThreadingHTTPServer(("127.0.0.1", 0), example.make_handler(False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hume"
        for body in ("not json: ☃ 日本", json.dumps({"job_id": "../☃", "status": "COMPLETED"}, ensure_ascii=False)):
            reply = httpx.post(url, content=body.encode(), timeout=60)
            assert reply.status_code == 400
    finally:
        server.shutdown()
        server.server_close()


# -- workers stopped by their service manager; the journal as input (Also) -----------------------------


def test_sigterm_stops_a_worker_as_ctrl_c_does_and_frees_its_leases(emulated, emu, tmp_path: Path) -> None:
    from batchkit.emulator import EMULATOR_KEY

    journal = tmp_path / "j.db"
    emulated("resemble").enqueue([_write(tmp_path / "m" / "a.wav")], journal=journal)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=30)  # the worker is inside its create
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "RESEMBLE_", "HUME_"))},
           "BATCHKIT_BASE_URL": emu.base_url, "RESEMBLE_API_KEY": EMULATOR_KEY}  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "batchkit.cli", "worker", "-p", "resemble", "--journal",
                               str(journal), "--until-done"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        while worker.poll() is None and not _sending(journal):
            time.sleep(0.05)  # until it holds the chunk and is sending it (or has ended, which fails below)
        assert worker.poll() is None, worker.communicate()
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 130, err
    assert "its chunks are free for other workers" in err
    assert not _held(journal)


def _held(journal: Path) -> bool:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return bool(db.execute("SELECT count(*) FROM chunks WHERE owner IS NOT NULL").fetchone()[0])


def _sending(journal: Path) -> bool:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return bool(db.execute("SELECT count(*) FROM chunks WHERE state = 'sending' AND owner IS NOT NULL")
                    .fetchone()[0])  # fmt: skip


@pytest.mark.parametrize("tamper", ["a path outside", "a size of -1"])
def test_workers_refuse_paths_outside_the_runs_folders_and_unknown_sizes(emulated, emu, tmp_path: Path,
                                                                         tamper: str) -> None:  # fmt: skip
    journal = tmp_path / "j.db"
    client = emulated("resemble")
    mine = _write(tmp_path / "media" / "a.wav")
    run = client.enqueue([mine], journal=journal)
    secret = _write(tmp_path / "elsewhere" / "secret.wav", b"s" * 10)
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        if tamper == "a path outside":
            db.execute("UPDATE files SET path = ?, mtime_ns = NULL WHERE run_id = ?", (str(secret), run))
        else:
            db.execute("UPDATE files SET size = -1, mtime_ns = NULL WHERE run_id = ?", (run,))
            mine.write_bytes(b"changed since")
    summary = client.work(journal, until_done=True)
    assert (summary.sent, summary.failed) == (0, 1)
    assert emu.created("resemble") == 0
    [chunk] = batchkit.runs.results(journal, run)
    assert chunk.status is batchkit.JobStatus.FAILED
    assert ("outside the folders" if tamper == "a path outside" else "no recorded size") in chunk.error


def test_a_migrated_run_still_sends_files_of_unknown_size(emulated, emu, tmp_path: Path) -> None:
    files = [_write(tmp_path / "a.wav"), _write(tmp_path / "b.wav")]
    client = emulated("resemble")
    group = client.submit_many(files, journal=tmp_path / "new.db", chunk=1)
    with contextlib.closing(sqlite3.connect(tmp_path / "new.db")) as db:
        [(whole,)] = db.execute("SELECT fingerprint FROM runs").fetchall()
    path = tmp_path / "old.db"
    _legacy_journal(path, files, group.jobs[0].id)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'fingerprint'", (whole,))
    resumed = client.submit_many(files, journal=path, chunk=1)
    assert [c.state for c in resumed.chunks] == ["sent", "sent"]


def _looked_for(client: batchkit.Client, files: list[Path], since_ms: int) -> batchkit.BatchJob | None:
    """What Resemble's lookup of a batch of ``files`` (sent since ``since_ms``) answers, through ``client``."""
    from batchkit._kernel.inputs import LocalFile
    from batchkit._kernel.not_given import NOT_GIVEN

    provider = client._ops.provider
    looked = provider.find_submission([LocalFile(f, f.stat().st_size) for f in files], since_ms, None)
    found: batchkit.BatchJob | None = client._run(client._configured(NOT_GIVEN), looked)
    return found


def test_batches_created_in_one_instant_are_told_apart_by_their_names(emulated, emu, tmp_path: Path) -> None:
    # a fleet's creates land together; a server whose clock shows whole seconds (or milliseconds, for two
    # creates 0.4 ms apart, seen in a Ray run) gives both batches' detects one created_at
    client = emulated("resemble")
    since_ms = int(time.time() * 1000) - 1000
    first = [_write(tmp_path / "a.wav"), _write(tmp_path / "b.wav")]
    second = [_write(tmp_path / "c.wav"), _write(tmp_path / "d.wav")]
    jobs = [client.submit(first), client.submit(second)]
    fake = emu.fakes["resemble"]
    instant = max(d.created for d in fake.detects.values())
    for detect in fake.detects.values():
        detect.created = instant
    for files, job in zip((first, second), jobs, strict=True):
        found = _looked_for(client, files, since_ms)
        assert found is not None, files
        assert set(found.children) == {d.uuid for d in fake.batches[job.id].detects}
    alike = [_write(tmp_path / "day1" / "a.wav")]  # a third batch in that instant, with a name of the first's
    client.submit(alike)
    for detect in fake.detects.values():
        detect.created = instant
    with pytest.raises(batchkit.UnsupportedError, match="cannot tell: batches created in the same instant"):
        _looked_for(client, alike, since_ms)
    assert _looked_for(client, second, since_ms) is not None, "names the others do not share still tell"
