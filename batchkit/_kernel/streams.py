"""A response body as the file objects a streaming parser reads (``read(n)``), sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator


class ByteReader:
    """``read(n)`` over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def read(self, size: int = -1) -> bytes:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._left = chunk
        if size < 0 or size >= len(self._left):
            out, self._left = self._left, b""
        else:
            out, self._left = self._left[:size], self._left[size:]
        return out


class AsyncByteReader:
    """``await read(n)`` over an async iterator of byte chunks."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    async def read(self, size: int = -1) -> bytes:
        while not self._left:
            try:
                self._left = await self._chunks.__anext__()
            except StopAsyncIteration:
                return b""
        if size < 0 or size >= len(self._left):
            out, self._left = self._left, b""
        else:
            out, self._left = self._left[:size], self._left[size:]
        return out
