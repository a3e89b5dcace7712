"""The emulator served three ways (context manager, pytest plugin, command) and driven by the seeds' curl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

import batchkit
from batchkit.emulator import EMULATOR_KEY, serve

from .conftest import readline_within

curl = shutil.which("curl")
needs_curl = pytest.mark.skipif(curl is None, reason="curl is not installed")


def run_curl(*args: str) -> dict:
    out = subprocess.run([curl or "curl", "-sS", *args], check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


@needs_curl
def test_resemble_seed_curl_commands_work_unchanged_but_host_and_key(emu, media, tmp_path: Path) -> None:
    clips = [media("clip1.mp3"), media("clip2.mp4"), media("clip3.jpg")]
    created = run_curl(
        "--request", "POST", f"{emu.base_url}/api/v2/detect/batch",
        "-H", f"Authorization: Bearer {EMULATOR_KEY}",
        "-F", f"files[]=@{clips[0]}", "-F", f"files[]=@{clips[1]}", "-F", f"files[]=@{clips[2]}",
        "-F", "callback_url=https://example.com/webhooks/detect-batch",
        "-F", "intelligence=true", "-F", "visualize=true",
    )  # fmt: skip
    assert created["success"] is True
    assert created["item"]["total_files"] == 3
    archive = tmp_path / "batch.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", clips[0].parent, "clip1.mp3")
    zipped = run_curl(
        "--request", "POST", f"{emu.base_url}/api/v2/detect/batch",
        "-H", f"Authorization: Bearer {EMULATOR_KEY}",
        "-F", f"file=@{archive}", "-F", "callback_url=https://example.com/webhooks/detect-batch", "-F", "intelligence=true",
    )  # fmt: skip
    assert zipped["item"]["total_files"] == 1
    status = run_curl("--request", "GET", f"{emu.base_url}/api/v2/detect/batch/{created['item']['uuid']}",
                      "-H", f"Authorization: Bearer {EMULATOR_KEY}")  # fmt: skip
    assert status["item"]["uuid"] == created["item"]["uuid"]
    assert emu.created("resemble") == 2


@needs_curl
def test_hume_seed_curl_commands_work(emu, media) -> None:
    job = run_curl(
        f"{emu.base_url}/v0/batch/jobs", "-H", f"X-Hume-Api-Key: {EMULATOR_KEY}",
        "--form", 'json={"models": {"prosody": {}}}', "--form", f"file=@{media('call.wav')}",
    )  # fmt: skip
    listed = run_curl(f"{emu.base_url}/v0/batch/jobs", "-H", f"X-Hume-Api-Key: {EMULATOR_KEY}")
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    assert listed[0]["request"]["files"][0]["filename"] == "call.wav"


def test_serve_binds_loopback_and_stops(media) -> None:
    with serve() as emu:
        url = emu.base_url
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_emulator").json()["creates"] == {"hive": 0, "hume": 0, "hume-expression": 0,
                                                                    "reality-defender": 0, "resemble": 0}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_emulator")
    with pytest.raises(RuntimeError, match="not being served"):
        emu.connect("hume")


def test_accepted_connections_get_tcp_nodelay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TCP_NODELAY each reply's second segment waits ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from batchkit.emulator import server

    made: list[socket.socket] = []
    original = server.listening_socket

    def recorded(host: str, port: int) -> socket.socket:
        made.append(original(host, port))
        return made[-1]

    monkeypatch.setattr(server, "listening_socket", recorded)
    with serve() as emu:
        assert emu.base_url is not None
        assert httpx.get(f"{emu.base_url}/_emulator").status_code == 200
    assert [s.proto for s in made] == [socket.IPPROTO_TCP]

    async def accepted_nodelay() -> int:
        sock = server.listening_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        async with await asyncio.start_server(on_connect, sock=sock):
            _, writer = await asyncio.open_connection(*sock.getsockname())
            flag = await seen
            writer.close()
            return flag

    assert asyncio.run(accepted_nodelay()) != 0


def test_pytest_fixture_in_a_throwaway_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import sys\nLOADED = sorted(m for m in sys.modules if m.split('.')[0] == 'batchkit')\n"
    )
    (tmp_path / "test_plugin_is_lazy.py").write_text(
        "from conftest import LOADED\n\n"
        "def test_the_plugin_imported_nothing_of_batchkit():\n"
        "    assert LOADED == ['batchkit', 'batchkit.testing']\n"
    )
    (tmp_path / "test_uses_fixture.py").write_text(
        textwrap.dedent(
            """
            import time
            import batchkit

            def test_pipeline(batchkit_emulator, tmp_path):
                path = tmp_path / "a.wav"
                path.write_bytes(b"x")
                batchkit_emulator.config.run_seconds = 0
                with batchkit_emulator.connect("resemble") as client:
                    job = client.wait(client.submit([path]), poll_interval=0.01)
                assert job.status is batchkit.JobStatus.SUCCEEDED
                assert batchkit_emulator.created("resemble") == 1

            def test_reset_between_tests(batchkit_emulator):
                assert batchkit_emulator.created("resemble") == 0
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "PYTEST_"))}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    print(f"throwaway project run: {time.perf_counter() - started:.2f}s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_emulator_command_serves_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "batchkit.cli", "emulator", "--port", str(port), "--run-seconds", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert f"http://127.0.0.1:{port}" in readline_within(proc.stdout)
            with batchkit.connect("hume", api_key="k", base_url=f"http://127.0.0.1:{port}") as client:
                job = client.wait(client.submit(text=["hi"]), poll_interval=0.01)
            assert job.status is batchkit.JobStatus.SUCCEEDED
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
