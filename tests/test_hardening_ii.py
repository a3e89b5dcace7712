"""Defects found by the second attack on batchkit, each with its test (issue 23: Hardening II)."""

from __future__ import annotations

from pathlib import Path

import pytest

import batchkit
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
