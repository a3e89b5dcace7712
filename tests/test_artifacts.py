"""Artifact archives: extracted safely, and an interrupted download leaves nothing behind."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit._kernel.download import ExtractLimits, safe_extract


def make_zip(tmp_path: Path, entries: dict[str, bytes], *, symlink: str | None = None) -> Path:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        ({"../evil.txt": b"x"}, None, "outside"),
        ({"a/../../evil.txt": b"x"}, None, "outside"),
        ({"/abs/evil.txt": b"x"}, None, "outside"),
        ({"C:/evil.txt": b"x"}, None, "outside"),
        ({"ok.txt": b"x"}, "link", "symbolic link"),
        ({"bomb.bin": b"\0" * 5_000_000}, None, "over the limit"),
    ],
)
def test_hostile_archives_are_refused(tmp_path: Path, entries, symlink, message) -> None:
    dest = tmp_path / "out"
    with pytest.raises(batchkit.InputError, match=message):
        safe_extract(make_zip(tmp_path, entries, symlink=symlink), dest)
    assert not dest.exists() or list(dest.rglob("*")) == []
    assert not (tmp_path / "evil.txt").exists()


def test_too_many_entries(tmp_path: Path) -> None:
    archive = make_zip(tmp_path, {f"f{i}.csv": b"1" for i in range(10_001)})
    with pytest.raises(batchkit.InputError, match="10001 entries"):
        safe_extract(archive, tmp_path / "out")


def test_ratio_and_total_limits_are_configurable(tmp_path: Path) -> None:
    archive = make_zip(tmp_path, {"a.bin": b"\0" * 100_000})
    with pytest.raises(batchkit.InputError, match="over the limit"):
        safe_extract(archive, tmp_path / "out", ExtractLimits(max_ratio=1.5))
    with pytest.raises(batchkit.InputError, match="over the limit"):
        safe_extract(archive, tmp_path / "out", ExtractLimits(max_total_bytes=99_999))
    assert (safe_extract(archive, tmp_path / "out", ExtractLimits(max_ratio=1e6)) / "a.bin").stat().st_size == 100_000


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(batchkit.InputError, match="not a zip"):
        safe_extract(path, tmp_path / "out")


def test_interrupted_download_leaves_no_file(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):
            yield b"PK\x03\x04partial"
            raise httpx.ReadError("connection reset mid-body")

        async def __aiter__(self):
            yield b"PK\x03\x04partial"
            raise httpx.ReadError("connection reset mid-body")

    httpx_mock.add_callback(lambda request: httpx.Response(200, stream=Broken()), is_reusable=True)
    dest = tmp_path / "out"
    with pytest.raises(batchkit.TransportError):
        make_client("hume").download_artifacts("j", dest)
    assert list(dest.iterdir()) == []


def test_artifacts_retry_restarts_the_file(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.csv", "1")
    httpx_mock.add_response(status_code=502)
    httpx_mock.add_response(content=buf.getvalue())
    path = make_client("hume").download_artifacts("j", tmp_path)
    assert path.read_bytes() == buf.getvalue()
