"""Helpers for reading what went over the wire in pytest-httpx tests."""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

import httpx


def multipart_parts(request: httpx.Request) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, body) of each part of a multipart request, in order."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.read()
    message: Any = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_param("filename", header="content-disposition"),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]
