"""Defects found by trying to break batchkit, each with its test (issue: hardening)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import inspect
import io
import json
import logging
import os
import sqlite3
import threading
import time
import traceback
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import webhooks
from batchkit._kernel.download import safe_extract
from batchkit.testing import FakeClock

from .conftest import HUME_KEY
from .hostile_server import drip, endless, hostile, reply

JOB = {"job_id": "j", "state": {"status": "QUEUED"}}


# -- keys ------------------------------------------------------------------------------------------


def test_a_key_read_from_a_file_with_its_newline_works(httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch) -> None:
    httpx_mock.add_response(json=JOB)
    monkeypatch.setenv("HUME_API_KEY", f"  {HUME_KEY}\n")
    with batchkit.connect("hume") as client:
        client.get("j")
    assert httpx_mock.get_requests()[0].headers["x-hume-api-key"] == HUME_KEY


@pytest.mark.parametrize("key", ["ключ-секрет", "abc\ndef", "tab\there"])
def test_a_key_no_header_can_carry_is_a_config_error_that_does_not_show_it(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUME_API_KEY", key)
    with pytest.raises(batchkit.ConfigError, match=r"\$HUME_API_KEY") as info:
        batchkit.connect("hume")
    assert key not in str(info.value)
    assert "секрет" not in str(info.value)


def test_a_request_refused_before_it_is_written_is_not_ambiguous_and_hides_its_headers(
    httpx_mock: HTTPXMock, media
) -> None:
    httpx_mock.add_exception(httpx.LocalProtocolError(f"Illegal header value b'{HUME_KEY}\\n'"))
    with batchkit.connect("hume", api_key=HUME_KEY) as client, pytest.raises(batchkit.TransportError) as info:
        client.submit([media("a.wav")])
    assert not isinstance(info.value, batchkit.AmbiguousSubmissionError)
    assert HUME_KEY not in str(info.value)
    assert HUME_KEY not in "".join(traceback.format_exception(info.value))
    assert len(httpx_mock.get_requests()) == 1


# -- artifacts stay inside dest ----------------------------------------------------------------------


def artifacts_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("faces/face.csv", "file,score\n")
    return buffer.getvalue()


@pytest.mark.parametrize("job_id", ["../x", "/tmp/evil", "a/b", "..", "x?y=1", "../../v0/batch/jobs?limit=1", ""])
def test_a_job_id_is_never_a_path(make_client, httpx_mock: HTTPXMock, tmp_path: Path, job_id: str) -> None:
    dest = tmp_path / "dest"
    client = make_client("hume")
    for call in (lambda: client.download_artifacts(job_id, dest, extract=True), lambda: client.get(job_id),
                 lambda: client.download_artifacts(batchkit.BatchJob("hume", job_id, batchkit.JobStatus.SUCCEEDED, ""),
                                                   dest)):  # fmt: skip
        with pytest.raises(batchkit.InputError):
            call()
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert httpx_mock.get_requests() == []


def test_a_link_already_in_the_destination_is_not_followed(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(content=artifacts_zip())
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    (dest / "j").mkdir(parents=True)
    (dest / "j" / "faces").symlink_to(outside)
    extracted = make_client("hume").download_artifacts("j", dest, extract=True)
    assert extracted == dest / "j"
    assert (extracted / "faces" / "face.csv").read_text() == "file,score\n"
    assert not (extracted / "faces").is_symlink()
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["j", "j-artifacts.zip"]


def test_dest_that_is_a_file_is_an_input_error(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(batchkit.InputError, match="not a directory"):
        make_client("hume").download_artifacts("j", tmp_path / "file")
    assert httpx_mock.get_requests() == []


def test_a_download_cut_short_without_length_is_not_committed(make_client, httpx_mock: HTTPXMock, tmp_path) -> None:
    whole = artifacts_zip()
    httpx_mock.add_callback(lambda request: httpx.Response(200, stream=httpx.ByteStream(whole[: len(whole) // 2])))
    with pytest.raises(batchkit.ResponseFormatError, match="not a complete zip"):
        make_client("hume").download_artifacts("j", tmp_path)
    assert list(tmp_path.iterdir()) == []


def hostile_zip(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        if kind == "deep":
            zf.writestr("/".join(["d"] * 2000) + "/f.txt", "x")
        elif kind == "long":
            zf.writestr("n" * 300 + ".txt", "x")
        elif kind == "file-then-folder":
            zf.writestr("a", "x")
            zf.writestr("a/b.txt", "y")
        elif kind == "twice":
            zf.writestr("a.txt", "x")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zf.writestr("a.txt", "y")
        else:
            zf.writestr("x.txt", "payload")
    data = bytearray(path.read_bytes())
    if kind == "encrypted":
        data[6] |= 0x1  # local header flag bits
        data[data.rfind(b"PK\x01\x02") + 8] |= 0x1  # central directory flag bits
    elif kind == "compression-99":
        data[8] = 99
        data[data.rfind(b"PK\x01\x02") + 10] = 99
    elif kind == "damaged":
        data[30 + len("x.txt") : 30 + len("x.txt") + 7] = b"\xff" * 7
        data[data.rfind(b"PK\x01\x02") + 10] = 8  # claims deflate: the bytes do not inflate
        data[8] = 8
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "kind", ["deep", "long", "file-then-folder", "twice", "encrypted", "compression-99", "damaged"]
)
def test_hostile_archives_are_typed_errors_and_leave_nothing(tmp_path: Path, kind: str) -> None:
    archive = hostile_zip(tmp_path, kind)
    dest = tmp_path / "out" / "job"
    with pytest.raises((batchkit.InputError, batchkit.ResponseFormatError)):
        safe_extract(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


# -- deadlines and bounded replies -------------------------------------------------------------------


def connect_to(kind: str, url: str, **settings: Any) -> Any:
    connect = batchkit.connect_async if kind == "async" else batchkit.connect
    return connect("hume", api_key=HUME_KEY, base_url=url, **settings)


def call(kind: str, client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    if kind == "sync":
        with client:
            result = getattr(client, method)(*args, **kwargs)
            return list(result) if isinstance(result, Iterator) else result  # list() pages as it is iterated

    async def go() -> Any:
        async with client:
            attr = getattr(client, method)
            if inspect.isasyncgenfunction(attr):
                return [item async for item in attr(*args, **kwargs)]
            return await attr(*args, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_wait_keeps_its_deadline_when_every_poll_is_told_to_retry_after_8s(kind: str) -> None:
    limited = reply(429, b'{"message": "slow down"}', {"retry-after": "8"})
    clock = FakeClock()
    started = clock.monotonic()
    with hostile(lambda method, path: [limited]) as url, pytest.raises(batchkit.WaitTimeoutError):
        call(kind, connect_to(kind, url, clock=clock), "wait", "j", timeout=1)
    assert clock.slept
    assert clock.monotonic() - started <= 1  # it never slept past its deadline for the server's 8 s


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_reply_drip_fed_past_the_timeout_is_cut_off(kind: str) -> None:
    body = json.dumps(JOB).encode()
    drip_fed = hostile(lambda method, path: drip(200, body, every=0.3))
    with drip_fed as url, pytest.raises(batchkit.TransportError, match="ReplyTooSlow"):  # cut off by the bound
        call(kind, connect_to(kind, url, timeout=1, max_retries=0), "get", "j")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("shape", ["declared", "endless"])
def test_a_reply_beyond_the_size_bound_is_a_format_error(kind: str, shape: str) -> None:
    big = reply(200, b"[" + b"0," * 20_000_000 + b"0]")
    with hostile(lambda method, path: [big] if shape == "declared" else endless()) as url:
        with pytest.raises(batchkit.ResponseFormatError, match="more than 1000000 bytes"):
            call(kind, connect_to(kind, url, max_reply_bytes=1_000_000), "get", "j")
        with pytest.raises(batchkit.AmbiguousSubmissionError, match="more than"):
            call(kind, connect_to(kind, url, max_reply_bytes=1_000_000), "submit", text=["x"])


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_json_nested_too_deep_is_a_format_error_everywhere(kind: str) -> None:
    with hostile(lambda method, path: [reply(200, DEEP)]) as url:
        for method, args, kwargs, error in [
            ("get", ("j",), {}, batchkit.ResponseFormatError),
            ("list", (), {}, batchkit.ResponseFormatError),
            ("results", ("j",), {}, batchkit.ResponseFormatError),
            ("submit", (), {"text": ["x"]}, batchkit.AmbiguousSubmissionError),
            ("wait", ("j",), {"timeout": 0.3}, batchkit.WaitTimeoutError),
        ]:
            with pytest.raises(error):
                call(kind, connect_to(kind, url, max_retries=0), method, *args, **kwargs)
    for provider in ("hume", "resemble"):
        with pytest.raises(batchkit.ResponseFormatError):
            webhooks.parse(provider, DEEP)


# -- inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("special", ["fifo", "dev-zero", "link-to-dev-zero"])
def test_only_regular_files_are_accepted(make_client, httpx_mock: HTTPXMock, tmp_path: Path, special: str) -> None:
    path = tmp_path / "x.wav"
    if special == "fifo":
        os.mkfifo(path)
    elif special == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path = Path("/dev/zero")
    for provider, inputs in (("hume", {"files": [path]}), ("hume", {"zip": path}), ("resemble", {"files": [path]}),
                             ("resemble", {"zip": path})):  # fmt: skip
        with pytest.raises(batchkit.InputError, match="not a regular file"):
            make_client(provider).submit(**inputs)
    assert httpx_mock.get_requests() == []


def test_the_cli_refuses_a_fifo_without_hanging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from batchkit.cli.commands import run

    os.mkfifo(tmp_path / "pipe.wav")
    monkeypatch.setenv("RESEMBLE_API_KEY", "k")
    assert run(["-p", "resemble", "submit", str(tmp_path / "pipe.wav")]) == 3
    assert "not a regular file" in capsys.readouterr().err


# -- what the command line prints ------------------------------------------------------------------

EVIL = "[/bold][link=https://evil.example]x[/link][/]\x1b]0;pwned\x07\x1b[31m"


def evil_server(method: str, path: str) -> list[bytes]:
    if path.endswith("/predictions"):
        source = {"source": {"type": "url", "url": "=HYPERLINK(\"https://evil.example\")"}, "results": {
            "predictions": [], "errors": [{"file": EVIL, "message": "@SUM(1+1)"}]}}  # fmt: skip
        return [reply(200, json.dumps([source]).encode())]
    job = {"job_id": EVIL, "state": {"status": "FAILED", "message": EVIL}}
    return [reply(200, json.dumps([job] if path.split("?")[0].endswith("/jobs") else job).encode())]


@pytest.mark.parametrize("args", [["status", "j"], ["jobs"], ["results", "j"], ["results", "j", "--format", "csv"],
                                  ["--json", "status", "j"]])  # fmt: skip
def test_server_text_is_printed_literally(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from batchkit.cli.commands import run

    monkeypatch.setenv("HUME_API_KEY", HUME_KEY)
    with hostile(evil_server) as url:
        monkeypatch.setenv("BATCHKIT_BASE_URL", url)
        code = run(["-p", "hume", *args])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert "\x1b" not in out + err
    assert "\x07" not in out + err
    if "--format" in args:
        cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
        assert '\'=HYPERLINK("https://evil.example")' in cells
        assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    elif "--json" not in args:
        assert "[/bold]" in out or "=HYPERLINK" in out


# -- configuration ---------------------------------------------------------------------------------


def test_a_config_file_cannot_send_the_key_in_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    (tmp_path / "batchkit.toml").write_text('provider = "hume"\nbase_url = "http://collector.example:8080"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUME_API_KEY", HUME_KEY)
    monkeypatch.delenv("BATCHKIT_BASE_URL", raising=False)
    with pytest.raises(batchkit.ConfigError, match="plain http") as info:
        batchkit.connect()
    assert "batchkit.toml" in str(info.value)
    caplog.set_level(logging.INFO, logger="batchkit")
    batchkit.connect(allow_insecure=True).close()
    monkeypatch.setenv("BATCHKIT_ALLOW_INSECURE", "1")
    batchkit.connect().close()
    assert any("batchkit.toml" in r.getMessage() and "base_url" in r.getMessage() for r in caplog.records)
    for loopback in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"):
        monkeypatch.delenv("BATCHKIT_ALLOW_INSECURE")
        batchkit.connect(base_url=loopback).close()
        monkeypatch.setenv("BATCHKIT_ALLOW_INSECURE", "0")


# -- files that change between their check and their upload ------------------------------------------


@pytest.mark.parametrize("change", ["grow", "shrink", "delete", "directory"])
def test_a_file_that_changes_after_its_check_is_a_typed_error_and_its_chunk_is_not_ambiguous(
    emu, tmp_path: Path, change: str
) -> None:
    files = [tmp_path / f"f{i}.wav" for i in range(4)]
    for path in files:
        path.write_bytes(b"x" * 100_000)
    victim = files[3]

    def meddle(sent: int) -> None:
        if sent <= 0 or not victim.is_file():
            return
        if change == "grow":
            victim.write_bytes(b"x" * 600_000)
        elif change == "shrink":
            victim.write_bytes(b"x" * 10)
        elif change == "delete":
            victim.unlink()
        else:
            victim.unlink()
            victim.mkdir()

    journal = tmp_path / "run.db"
    with (
        batchkit.connect("resemble", api_key="k", base_url=emu.base_url, on_upload=meddle) as client,
        pytest.raises(batchkit.InputError, match=r"f3\.wav"),
    ):
        client.submit_many(files, journal=journal, chunk=2)
    assert emu.created("resemble") == 1
    with contextlib.closing(sqlite3.connect(journal)) as db:
        assert [s for (s,) in db.execute("SELECT state FROM chunks ORDER BY idx")] == ["sent", "failed"]
    if victim.is_dir():
        victim.rmdir()
    victim.write_bytes(b"x" * 100_000)
    with batchkit.connect("resemble", api_key="k", base_url=emu.base_url) as client:
        group = client.submit_many(files, journal=journal, chunk=2)
    assert [c.state for c in group.chunks] == ["sent", "sent"]
    assert emu.created("resemble") == 2


def test_a_hume_file_that_grew_past_the_limit_after_its_check_is_not_sent(emu, tmp_path: Path) -> None:
    first, grower = tmp_path / "a.wav", tmp_path / "b.wav"
    first.write_bytes(b"x" * 2_000_000)
    grower.write_bytes(b"x" * 10)

    def grow(sent: int) -> None:
        if sent > 0 and grower.stat().st_size == 10:
            with open(grower, "r+b") as fh:
                fh.truncate(600 * 1024 * 1024)  # sparse: 600 MB that take no room

    client = batchkit.connect("hume", api_key="k", base_url=emu.base_url, on_upload=grow)
    with client, pytest.raises(batchkit.InputError, match=r"b\.wav: (was 10 bytes|changed size)"):
        client.submit([first, grower])
    assert emu.created("hume") == 0


def test_an_undecodable_file_name_is_an_input_error(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    name = os.fsdecode(b"\xff\xfe.wav")
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(batchkit.InputError, match="not valid UTF-8"):
        make_client("resemble").submit([tmp_path / name])
    assert httpx_mock.get_requests() == []


# -- arguments of the wrong kind ---------------------------------------------------------------------


def test_arguments_of_the_wrong_kind_are_input_errors_before_anything_is_sent(
    make_client, httpx_mock: HTTPXMock, media
) -> None:
    a, b = media("a.zip", content=artifacts_zip()), media("b.zip", content=artifacts_zip())
    hume, resemble = make_client("hume"), make_client("resemble")
    for attempt in (
        lambda: resemble.submit(zip=[a, b]),
        lambda: hume.submit(zip=[a, b]),
        lambda: resemble.submit(zip=[]),
        lambda: hume.submit(text=123),
        lambda: hume.submit(text={"a": 1}),
        lambda: hume.submit(urls={"https://x.test/a.mp4"}),
        lambda: hume.submit(text=["x"], callback_url=123),
        lambda: hume.submit(text=["x"], callback_url=["https://x.test/cb"]),
        lambda: resemble.submit([media("c.wav")], callback_url="file:///etc/passwd"),
        lambda: hume.wait(["a", "b"]),
        lambda: hume.list(status="COMPLETED"),
        lambda: hume.list(status=[3]),
        lambda: hume.wait("j", timeout=float("nan")),
        lambda: hume.wait("j", poll_interval=0),
    ):
        with pytest.raises(batchkit.InputError):
            attempt()
    for timeout in (float("nan"), float("inf"), 0, "60"):
        with pytest.raises(batchkit.ConfigError, match="timeout"):
            batchkit.connect("hume", api_key="k", timeout=timeout)
    assert httpx_mock.get_requests() == []


def test_one_string_where_many_are_expected_is_one_item(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"job_id": "job-123", "state": {"status": "COMPLETED"}}, is_reusable=True)
    client = make_client("hume")
    assert [j.id for j in client.wait_all("job-123")] == ["job-123"]
    assert [j.id for j in client.as_completed("job-123")] == ["job-123"]
    assert len(httpx_mock.get_requests()) == 2
    httpx_mock.add_response(json=[])
    list(client.list(status="succeeded"))
    assert "status=COMPLETED" in str(httpx_mock.get_requests()[-1].url)


# -- smaller things ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_redirect_to_another_origin_never_carries_the_key(kind: str) -> None:
    seen: list[str] = []

    def elsewhere(method: str, path: str) -> list[bytes]:
        seen.append(path)
        return [reply(200, json.dumps(JOB).encode())]

    with hostile(elsewhere) as other:

        def redirecting(method: str, path: str) -> list[bytes]:
            return [reply(302, b"", {"location": f"{other}/landed"})]

        with hostile(redirecting) as url:
            received: list[httpx.Headers] = []
            hooks = {"request": [received.append] if kind == "sync" else [_async_append(received)]}
            http_type = httpx.Client if kind == "sync" else httpx.AsyncClient
            client = connect_to(kind, url, http_client=http_type(follow_redirects=True, event_hooks=hooks))
            assert call(kind, client, "get", "j").id == "j"
    assert seen == ["/landed"]
    first, second = (r.headers for r in received)
    assert first["x-hume-api-key"] == HUME_KEY
    assert "x-hume-api-key" not in second


def _async_append(into: list[Any]) -> Any:
    async def append(request: httpx.Request) -> None:
        into.append(request)

    return append


def test_the_emulator_validates_before_it_creates(emu) -> None:
    url = f"{emu.base_url}/v0/batch/jobs"
    headers = {"x-hume-api-key": "k"}
    for body in (b'{"text": ["x"], "callback_url": 123}', b'{"text": ["x"], "callback_url": "file:///x"}', DEEP):
        assert httpx.post(url, content=body, headers=headers).status_code == 400
    assert emu.created("hume") == 0


def test_a_malformed_detect_is_that_files_error(make_client, httpx_mock: HTTPXMock) -> None:
    batch = {"success": True, "item": {"uuid": "b", "status": "completed", "detect_uuids": ["d1", "d2"]}}
    httpx_mock.add_response(url="https://app.resemble.ai/api/v2/detect/batch/b", json=batch)
    httpx_mock.add_response(url="https://app.resemble.ai/api/v2/detect/d1", json={"success": True, "item": {
        "uuid": "d1", "status": "completed", "filename": "a.wav"}})  # fmt: skip
    httpx_mock.add_response(
        url="https://app.resemble.ai/api/v2/detect/d2", json={"item": {"uuid": ["not", "a", "uuid"]}}
    )
    ok, broken = make_client("resemble").results("b")
    assert (ok.source, ok.status) == ("a.wav", batchkit.JobStatus.SUCCEEDED)
    assert (broken.source, broken.status) == ("d2", batchkit.JobStatus.UNKNOWN)
    assert "could not fetch detect d2" in (broken.error or "")


def test_webhooks_parse_needs_a_provider_name() -> None:
    for provider in (None, 3, "nope"):
        with pytest.raises(batchkit.InputError):
            webhooks.parse(provider, b"{}")  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "message"), [
    (["--option", "models=1", "--option", "models.face.fps_pred=2", "--text", "x"], "already given a value"),
    (["--option", "models.face.fps_pred=2", "--option", "models=1", "--text", "x"], "already holds options"),
])  # fmt: skip
def test_cli_options_that_conflict_are_one_line(args: list[str], message: str, monkeypatch, capsys) -> None:
    from batchkit.cli.commands import run

    monkeypatch.setenv("HUME_API_KEY", "k")
    assert run(["-p", "hume", "submit", *args]) == 3
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_results_into_a_missing_folder_is_one_line(emu, monkeypatch, capsys, tmp_path: Path) -> None:
    from batchkit.cli.commands import run

    monkeypatch.setenv("HUME_API_KEY", "k")
    monkeypatch.setenv("BATCHKIT_BASE_URL", emu.base_url)
    with emu.connect("hume") as client:
        job = client.wait(client.submit(text=["hi"]), poll_interval=0.01)
    assert run(["-p", "hume", "results", job.id, "-o", str(tmp_path / "missing" / "dir" / "x.csv")]) == 3
    assert "cannot be written" in capsys.readouterr().err


def headers_drip(method: str, path: str) -> Iterator[bytes]:
    """A reply whose very headers arrive a few bytes at a time."""
    yield b"HTTP/1.1 200 OK\r\n"
    for i in range(20):  # six seconds in all, each piece well within the read timeout
        time.sleep(0.3)
        yield f"x-{i}: {i}\r\n".encode()


@pytest.mark.parametrize("kind", ["sync", "async", "sync given an httpx client"])
def test_a_request_has_a_total_bound_even_before_its_reply_begins(kind: str) -> None:
    """The sync client's own httpx client keeps the bound on its connections (a lone request is sent on
    the calling thread); given an httpx client, it sends on a pool thread and watches the deadline."""
    given, executor = kind == "sync given an httpx client", kind.split()[0]
    with hostile(headers_drip) as url, httpx.Client() as http:
        client = connect_to(executor, url, timeout=0.5, max_retries=0, **({"http_client": http} if given else {}))
        with pytest.raises(batchkit.TransportError, match="ReplyTooSlow"):
            call(executor, client, "get", "j")


def test_a_lone_request_is_sent_on_the_calling_thread_once_its_connection_is_open(
    emu: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """No hop to a pool thread for the sync client's own httpx client once a connection is open and idle: a
    request that must open one (a name lookup and a handshake nothing bounds) goes from the pool, where the
    calling thread watches its whole bound, as do all of a given httpx client's."""
    from batchkit._kernel import deadlines
    from batchkit.emulator import EMULATOR_KEY

    connects: list[threading.Thread] = []
    writes: list[threading.Thread] = []
    connect, write = deadlines._Backend.connect_tcp, deadlines._Stream.write
    monkeypatch.setattr(deadlines._Backend, "connect_tcp",
                        lambda self, *a, **kw: connects.append(threading.current_thread()) or connect(self, *a, **kw))
    monkeypatch.setattr(deadlines._Stream, "write",
                        lambda self, *a, **kw: writes.append(threading.current_thread()) or write(self, *a, **kw))
    here = threading.current_thread()
    with batchkit.connect("hume", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
        for _ in range(3):
            with pytest.raises(batchkit.NotFoundError):
                client.get("j")
    assert [thread is here for thread in connects] == [False]  # opened from the pool, once
    each = len(writes) // 3  # httpcore's writes of one request (its head, then its end)
    assert [thread is here for thread in writes] == [False] * each + [True] * 2 * each
    with httpx.Client() as http:
        given = batchkit.connect("hume", api_key=EMULATOR_KEY, base_url=emu.base_url, http_client=http)
        assert given._open_to is None


def test_the_sync_clients_own_requests_go_through_a_proxy_the_environment_names(
    emu: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """httpx takes ``HTTP(S)_PROXY`` from the environment only for the transports it makes itself: the
    client's own was made with a transport of its own, and every request went straight past the proxy."""
    import socket

    from batchkit.emulator import EMULATOR_KEY

    with socket.create_server(("127.0.0.1", 0)) as proxy:
        proxy.settimeout(30)
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        asked: list[bytes] = []

        def answer() -> None:
            conn, _ = proxy.accept()
            with conn:
                asked.append(conn.recv(4096))
                conn.sendall(b"HTTP/1.1 404 X\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")

        answering = threading.Thread(target=answer)
        answering.start()
        with batchkit.connect("hume", api_key=EMULATOR_KEY, base_url=emu.base_url,
                              retry=batchkit.RetryPolicy(max_retries=0)) as client:  # fmt: skip
            assert client._open_to is None  # a proxy's connections are another transport's
            with pytest.raises(batchkit.NotFoundError):
                client.get("j")
        answering.join()
    assert len(asked) == 1
    assert asked[0].startswith(f"GET {emu.base_url}/v0/batch/jobs/j ".encode())


def test_an_exchange_made_inside_another_leaves_the_outer_ones_bound() -> None:
    """A request made from an upload's progress callback (on the calling thread) ended the bound of the
    upload it was made in: the rest of that upload waited with none."""
    from batchkit._kernel import deadlines

    with deadlines.within(100.0):
        with deadlines.within(None):
            assert deadlines._bounded(7.0) == 7.0
        assert deadlines._local.deadline == 100.0
    assert deadlines._local.deadline is None
