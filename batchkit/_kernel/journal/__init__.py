"""The journal of large submissions: runs, chunks, leases, results and shared rates, on sqlite (a file)
or PostgreSQL (a ``postgresql://`` URL)."""

from .book import (
    MAX_LOOKS,
    Chunk,
    ChunkState,
    Claim,
    FileEntry,
    Journal,
    Onward,
    Run,
    RunProgress,
    Scope,
    within,
)
from .schema import SCHEMA_VERSION
from .stores import RowError, default_journal, is_postgres, redacted, without_password

__all__ = [
    "MAX_LOOKS",
    "SCHEMA_VERSION",
    "Chunk",
    "ChunkState",
    "Claim",
    "FileEntry",
    "Journal",
    "Onward",
    "RowError",
    "Run",
    "RunProgress",
    "Scope",
    "default_journal",
    "is_postgres",
    "redacted",
    "within",
    "without_password",
]
