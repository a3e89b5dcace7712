"""Hume: bad input is a typed InputError before any request is sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit.providers.hume import MAX_FILE_BYTES


def big_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "big.mp4"
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


CASES = {
    "nothing": (lambda tmp: {}, "nothing to submit"),
    "missing file": (lambda tmp: {"files": [tmp / "nope.wav"]}, "no such file"),
    "directory": (lambda tmp: {"files": [tmp]}, "is a directory"),
    "101 urls": (lambda tmp: {"urls": [f"https://e.x/{i}.mp4" for i in range(101)]}, "101 urls"),
    "101 texts": (lambda tmp: {"text": ["t"] * 101}, "101 text"),
    "non-http url": (lambda tmp: {"urls": ["file:///etc/passwd"]}, "not an http"),
    "empty text": (lambda tmp: {"text": [""]}, "non-empty strings"),
    "url not a string": (lambda tmp: {"urls": [3]}, "non-empty strings"),
    "file too big": (lambda tmp: {"files": [big_file(tmp, MAX_FILE_BYTES + 1)]}, "over the"),
    "bytes as files": (lambda tmp: {"files": b"a.wav"}, "not bytes"),
    "int as files": (lambda tmp: {"files": 5}, "expected a path"),
    "unknown option": (lambda tmp: {"text": ["x"], "options": {"modles": {}}}, "modles"),
    "option of wrong type": (lambda tmp: {"text": ["x"], "options": {"notify": "yes"}}, "notify"),
    "options object of another kind": (lambda tmp: {"text": ["x"], "options": 3}, "must be a HumeOptions"),
    "out of range": (
        lambda tmp: {"text": ["x"], "options": {"models": {"face": {"prob_threshold": 2}}}},
        "prob_threshold",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_sends_nothing(make_client, httpx_mock: HTTPXMock, tmp_path: Path, case: str) -> None:
    build, message = CASES[case]
    with pytest.raises(batchkit.InputError, match=message):
        make_client("hume").submit(**build(tmp_path))
    assert httpx_mock.get_requests() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(make_client, httpx_mock: HTTPXMock, media) -> None:
    path = media("locked.wav")
    path.chmod(0)
    with pytest.raises(batchkit.InputError, match="cannot be read"):
        make_client("hume").submit([path])


def test_symlink_loop(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    with pytest.raises(batchkit.InputError, match=r"loop\.wav"):
        make_client("hume").submit([loop])
    assert httpx_mock.get_requests() == []
