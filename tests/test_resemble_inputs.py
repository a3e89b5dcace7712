"""Resemble: every batch rule is checked before a byte is sent (zero requests)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

import batchkit


def files(tmp: Path, names: list[str], size: int = 10) -> list[Path]:
    out = []
    for name in names:
        path = tmp / name
        path.write_bytes(b"x" * size)
        out.append(path)
    return out


def sparse(tmp: Path, name: str, size: int) -> Path:
    path = tmp / name
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def archive(tmp: Path, names: list[str], name: str = "batch.zip") -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as zf:
        for entry in names:
            zf.writestr(entry, b"x")
    return path


def loop(tmp: Path) -> Path:
    path = tmp / "loop.wav"
    path.symlink_to(path)
    return path


CASES = {
    "symlink loop": (lambda t: {"files": [loop(t)]}, r"loop\.wav: cannot be read"),
    "bytes instead of paths": (lambda t: {"files": b"a.wav"}, "give paths, not bytes"),
    "a number instead of paths": (lambda t: {"files": 7}, "expected a path or a list of paths"),
    "a list holding a number": (lambda t: {"files": [7]}, "expected paths, got int"),
    "options of the wrong kind": (
        lambda t: {"files": files(t, ["a.wav"]), "options": ["intelligence"]},
        "must be a ResembleOptions",
    ),
    "51 files": (lambda t: {"files": files(t, [f"{i}.wav" for i in range(51)])}, "51 files, more than the 50"),
    "500 MB + 1 byte": (
        lambda t: {"files": [sparse(t, "a.mp4", 250 * 10**6), sparse(t, "b.mp4", 250 * 10**6 + 1)]},
        "500000001 bytes in all, over the 500000000-byte",
    ),
    "bad extension": (lambda t: {"files": files(t, ["a.wav", "notes.txt"])}, r"notes\.txt: extension '\.txt'"),
    "no extension": (lambda t: {"files": files(t, ["README"])}, "extension ''"),
    "zip and files": (lambda t: {"files": files(t, ["a.wav"]), "zip": archive(t, ["a.wav"])}, "not both"),
    "neither": (lambda t: {}, "nothing to submit"),
    "urls": (lambda t: {"urls": ["https://e.x/a.wav"]}, "not urls or text"),
    "text": (lambda t: {"text": ["hello"]}, "not urls or text"),
    "empty zip": (lambda t: {"zip": archive(t, [])}, "0 media entries"),
    "zip of non-media": (lambda t: {"zip": archive(t, ["a.txt", "b.pdf", "dir/"])}, "0 media entries"),
    "zip with 51 media": (lambda t: {"zip": archive(t, [f"d{i % 3}/{i}.wav" for i in range(51)])}, "51 media entries"),
    "not a zip": (lambda t: {"zip": files(t, ["fake.zip"])[0]}, "not a readable zip"),
    "missing path": (lambda t: {"files": [t / "gone.wav"]}, r"gone\.wav: no such file"),
    "missing zip": (lambda t: {"zip": t / "gone.zip"}, r"gone\.zip: no such file"),
    "directory": (lambda t: {"files": [t]}, "is a directory"),
    "frame_length 5": (lambda t: {"files": files(t, ["a.wav"]), "options": {"frame_length": 5}}, "frame_length"),
    "frame_length 0": (lambda t: {"files": files(t, ["a.wav"]), "options": {"frame_length": 0}}, "frame_length"),
    "negative region": (lambda t: {"files": files(t, ["a.wav"]), "options": {"start_region": -1}}, "start_region"),
    "end before start": (
        lambda t: {"files": files(t, ["a.wav"]), "options": {"start_region": 5, "end_region": 2}},
        "end_region",
    ),
    "unknown option": (
        lambda t: {"files": files(t, ["a.wav"]), "options": {"detect_watermark": True}},
        "detect_watermark",
    ),
    "hume option": (lambda t: {"files": files(t, ["a.wav"]), "options": {"models": {}}}, "models"),
    "bool as string": (lambda t: {"files": files(t, ["a.wav"]), "options": {"intelligence": "yes"}}, "intelligence"),
    "custom byte limit": (
        lambda t: {"files": files(t, ["a.wav"], size=101), "options": {"max_total_bytes": 100}},
        "101 bytes in all, over the 100-byte",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_sends_nothing(make_client, httpx_mock: HTTPXMock, tmp_path: Path, case: str) -> None:
    build, message = CASES[case]
    with pytest.raises(batchkit.InputError, match=message):
        make_client("resemble").submit(**build(tmp_path))
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize("names", [["A.WAV", "b.Mp3", "c.JPEG"], [f"{i}.webm" for i in range(50)]])
def test_accepted_edges(make_client, httpx_mock: HTTPXMock, tmp_path: Path, names: list[str]) -> None:
    httpx_mock.add_response(status_code=202, json={"success": True, "item": {"uuid": "b", "status": "processing"}})
    assert make_client("resemble").submit(files(tmp_path, names)).id == "b"


def test_exactly_500_mb_passes_the_checks(tmp_path: Path) -> None:
    from batchkit.providers.base import Submission
    from batchkit.providers.resemble import ResembleProvider

    prepared = ResembleProvider("https://app.resemble.ai").prepare(
        Submission(files=[sparse(tmp_path, "a.mp4", 500 * 10**6)])
    )
    assert (prepared.field, prepared.files[0].size) == ("files[]", 500 * 10**6)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    [path] = files(tmp_path, ["a.wav"])
    path.chmod(0)
    with pytest.raises(batchkit.InputError, match="cannot be read"):
        make_client("resemble").submit([path])
