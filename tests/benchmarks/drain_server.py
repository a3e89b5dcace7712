"""A minimal loopback HTTP/1.1 server for benchmarks: drains request bodies, answers canned JSON.

python drain_server.py PORT_FILE      # writes the port it listens on to PORT_FILE, serves until killed
"""

from __future__ import annotations

import asyncio
import json
import sys

CREATED = {
    "/api/v2/detect/batch": (202, {"success": True, "item": {"uuid": "bench-batch", "status": "processing", "total_files": 50,
                                                             "completed_count": 0, "failed_count": 0, "detect_uuids": []}}),
    "/v0/batch/jobs": (200, {"job_id": "bench-job"}),
}  # fmt: skip
STATUS = {"success": True, "item": {"uuid": "bench-batch", "status": "completed", "total_files": 3, "completed_count": 3,
                                    "failed_count": 0, "created_at": "2024-01-15T10:30:00Z",
                                    "detect_uuids": ["d1", "d2", "d3"]}}  # fmt: skip


def reply(status: int, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
    return head.encode() + data


BIG_SOURCES = 100
"""``/v0/batch/jobs/big/predictions``: this many sources of about 5 MB each, generated as they are sent."""


def big_source() -> bytes:
    emotions = [{"name": f"Emotion {i}", "score": 0.123456} for i in range(48)]
    predictions = [{"frame": i, "time": i / 3, "prob": 0.99, "box": {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0},
                    "emotions": emotions} for i in range(2_200)]  # fmt: skip
    return json.dumps({"source": {"type": "file", "filename": "long.mp4"}, "results": {"predictions": [
        {"file": "long.mp4", "models": {"face": {"grouped_predictions": [{"id": "unknown", "predictions": predictions}]}}}],
        "errors": []}}).encode()  # fmt: skip


async def send_big(writer: asyncio.StreamWriter) -> None:
    source = big_source()
    length = 2 + len(source) * BIG_SOURCES + (BIG_SOURCES - 1)
    writer.write(f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n[".encode())
    for i in range(BIG_SOURCES):
        writer.write(source if i == 0 else b"," + source)
        await writer.drain()
    writer.write(b"]")
    await writer.drain()


BIG_JOB = {"job_id": "big", "state": {"status": "COMPLETED", "num_predictions": BIG_SOURCES, "num_errors": 0}}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            remaining = int(headers.get("content-length", "0"))
            while remaining:
                chunk = await reader.read(min(remaining, 1 << 20))
                if not chunk:
                    return
                remaining -= len(chunk)
            if path == "/v0/batch/jobs/big/predictions":
                await send_big(writer)
                continue
            if method == "POST":
                status, body = CREATED.get(path.split("?")[0], (404, {"message": "no"}))
            elif path == "/v0/batch/jobs/big":
                status, body = 200, BIG_JOB
            else:  # Hume's job list is empty; anything else reads a finished Resemble batch
                status, body = (200, []) if path.split("?")[0] == "/v0/batch/jobs" else (200, STATUS)
            writer.write(reply(status, body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port_file: str) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    with open(port_file, "w") as fh:
        fh.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
