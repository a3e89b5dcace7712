"""Runs of millions of files: files given by list (``--files-from``, stdin, NUL-separated) or by folder
(``--glob``), each path resolved once, and a run's results written to CSV as they are read."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

import batchkit
from batchkit._kernel.journal import Journal
from batchkit._orchestration.large_submissions import fingerprint
from batchkit.cli.files import listed, walked
from batchkit.emulator import EMULATOR_KEY
from tests.test_submit_many import many


def recorded(journal: str) -> list[str]:
    [progress] = batchkit.runs.progress(journal)
    return [r.source for r in batchkit.runs.results(journal, progress.run.id)]


def test_enqueue_takes_a_list_and_folders_walked_for_a_glob(cli, tmp_path: Path) -> None:
    files = many(tmp_path, 6)
    (tmp_path / "media" / "notes.txt").write_text("not media")
    (tmp_path / "media" / "deeper").mkdir()
    deeper = (tmp_path / "media" / "deeper" / "z.wav")
    deeper.write_bytes(b"x" * 10)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{files[4]}\n\n{files[5]}\r\n")  # blank lines skipped, CRLF taken
    journal = str(tmp_path / "j.db")
    done = cli("-p", "resemble", "enqueue", str(tmp_path / "media"), "--glob", "f000[0-3].wav", "--files-from",
               str(listing), "--journal", journal)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "recorded 6 file(s)" in done.stderr
    assert recorded(journal) == [str(p.resolve()) for p in files]
    walked_all = cli("-p", "resemble", "enqueue", str(tmp_path / "media"), "--glob", "*.wav", "--journal",
                     str(tmp_path / "k.db"))  # fmt: skip
    assert walked_all.returncode == 0, walked_all.stderr
    assert recorded(str(tmp_path / "k.db")) == [str(p.resolve()) for p in [*files, deeper]]  # a folder's files, then its folders
    assert cli("-p", "resemble", "enqueue", "--journal", journal).returncode == 3  # nothing given
    missing = cli("-p", "resemble", "enqueue", "--files-from", str(tmp_path / "nope"), "--journal", journal)
    assert (missing.returncode, "cannot be read" in missing.stderr) == (3, True)


def test_a_nul_separated_list_on_stdin(emu, tmp_path: Path) -> None:
    files = many(tmp_path, 3)
    odd = tmp_path / "media" / "new\nline.wav"  # a name a line-list cannot hold
    odd.write_bytes(b"x" * 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "RESEMBLE_"))}
    env.update(BATCHKIT_BASE_URL=emu.base_url, RESEMBLE_API_KEY=EMULATOR_KEY)
    journal = str(tmp_path / "j.db")
    listing = b"\0".join(os.fsencode(p) for p in [*files, odd]) + b"\0"
    done = subprocess.run([sys.executable, "-m", "batchkit.cli", "-p", "resemble", "enqueue", "--files-from", "-",
                           "-0", "--journal", journal], input=listing, capture_output=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert recorded(journal) == [str(p.resolve()) for p in [*files, odd]]


def test_a_list_is_read_a_block_at_a_time() -> None:
    names = [f"/data/{n:07d}.wav" for n in range(20_000)]
    block = io.BytesIO(("\n".join(names) + "\n").encode())
    reader = listed(block, nul=False)
    assert next(reader) == names[0]
    assert block.tell() <= 1 << 16  # one block read so far, not the whole list
    assert [names[0], *reader] == names
    assert list(listed(io.BytesIO(b"a\0b\0\0c"), nul=True)) == ["a", "b", "c"]


def test_a_walk_holds_one_folder_at_a_time_and_skips_what_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "b" / "c.wav").write_bytes(b"x")
    (tmp_path / "d.wav").mkdir()  # a folder that matches
    assert [Path(p).relative_to(tmp_path).as_posix() for p in walked(tmp_path, "*.wav")] == ["a.wav", "b/c.wav"]


def test_enqueue_resolves_each_path_once(emulated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = many(tmp_path, 40)
    calls: list[Path] = []
    resolve = pathlib.Path.resolve

    def counted(self: Path, strict: bool = False) -> Path:
        calls.append(self)
        return resolve(self, strict)

    monkeypatch.setattr(pathlib.Path, "resolve", counted)
    emulated("resemble").enqueue(files, journal=str(tmp_path / "j.db"), chunk=10)
    assert sorted(map(str, calls)) == sorted(map(str, files))


def a_run_of(journal: str, count: int) -> str:
    """A run of ``count`` files (not on disk: only the journal is read) in chunks of 100."""
    book = Journal(journal)
    try:
        entries = [(f"/data/{n:07d}.wav", 10, None) for n in range(count)]
        plan = [range(start, min(start + 100, count)) for start in range(0, count, 100)]
        return book.record_run("resemble", fingerprint("resemble", [], (count, 0), {}), {"inputs": {}}, entries,
                               plan, now_ms=0)  # fmt: skip
    finally:
        book.close()


def test_a_runs_csv_is_written_as_it_is_read(cli, tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    run = a_run_of(journal, 2_500)
    written = cli("results", "--journal", journal, "--run", run, "-o", "out.csv")
    assert written.returncode == 0, written.stderr
    assert "wrote 2500 results" in written.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["source"] for r in rows] == [f"/data/{n:07d}.wav" for n in range(2_500)]
    assert {r["status"] for r in rows} == {"QUEUED"}
    shown = cli("--json", "results", "--journal", journal, "--run", run)  # the same rows, read whole
    assert [r["source"] for r in json.loads(shown.stdout)] == [r["source"] for r in rows]
    missing = cli("results", "--journal", journal, "--run", "run-nope", "-o", "none.csv")
    assert missing.returncode == 3
    assert not (tmp_path / "none.csv").exists()  # nothing written for a run that is not there


def exported_peak(journal: str, run: str, out: Path) -> int:
    from batchkit.cli.export import write_streamed

    tracemalloc.start()
    try:
        with open(out, "w", newline="") as fh:
            write_streamed(batchkit.runs.streamed(journal, run, page=200), "csv", "summary", fh)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_streamed_export_does_not_grow_with_the_run(tmp_path: Path) -> None:
    small, large = str(tmp_path / "small.db"), str(tmp_path / "large.db")
    runs = a_run_of(small, 1_000), a_run_of(large, 10_000)
    peaks = [exported_peak(j, r, tmp_path / "out.csv") for j, r in zip((small, large), runs, strict=True)]
    assert peaks[1] < 2 * peaks[0], peaks  # ten times the rows, not twice the memory (read whole: ten times)


def enqueued_peak(journal: str, files: list[Path]) -> int:
    """The most memory ``enqueue`` of ``files`` (given one at a time) holds, in bytes."""
    client = batchkit.connect("resemble", api_key="k", base_url="http://127.0.0.1:9")
    tracemalloc.start()
    try:
        client.enqueue((f for f in files), journal=journal, chunk=10)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()


def test_a_streamed_enqueue_does_not_grow_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchkit._kernel.journal import stores

    monkeypatch.setattr(stores, "BATCH", 50)  # what one statement carries: less than either run here
    folder = tmp_path / "media"
    folder.mkdir()
    files = []
    for n in range(5_000):
        files.append(folder / f"f{n:05d}.wav")
        files[-1].write_bytes(b"x")
    small, large = str(tmp_path / "small.db"), str(tmp_path / "large.db")
    enqueued_peak(str(tmp_path / "warm.db"), files[:100])  # imports and first statements, not counted
    peaks = enqueued_peak(small, files[:500]), enqueued_peak(large, files)
    assert peaks[1] < 2 * peaks[0], peaks  # ten times the files, not twice the memory (held: ten times)
    [progress] = batchkit.runs.progress(large)
    assert (progress.run.files, progress.run.chunks) == (5_000, 500)


def test_enqueued_again_a_run_takes_its_unsent_files_as_they_are_now(journal_url: str, tmp_path: Path) -> None:
    """The same files enqueued again are the same run: the files of chunks not yet sent get their size and
    time as they are now (one statement a batch, by key); a chunk that was sent keeps what it sent."""
    from batchkit._kernel.journal import Journal

    files = []
    for n in range(4):
        files.append(tmp_path / f"f{n}.wav")
        files[-1].write_bytes(b"x" * 10)
    client = batchkit.connect("resemble", api_key="k", base_url="http://127.0.0.1:9")
    try:
        run = client.enqueue(files, journal=journal_url, chunk=2)
        book = Journal(journal_url)
        try:
            with book._store.transaction() as tx:
                tx.execute("UPDATE chunks SET state = 'sent', job_id = 'j' WHERE run_id = ? AND idx = 0", (run,))
            before = {f.index: f.mtime_ns for f in book.files(run)}
            for path in files:
                os.utime(path, ns=(1_000_000_000, 1_000_000_000))
            assert client.enqueue(iter(files), journal=journal_url, chunk=2) == run
            after = {f.index: f.mtime_ns for f in book.files(run)}
        finally:
            book.close()
    finally:
        client.close()
    assert [after[i] == before[i] for i in range(4)] == [True, True, False, False]
    assert after[2] == after[3] == 1_000_000_000
