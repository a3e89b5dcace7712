"""The nonce batchkit puts in a ``callback_url`` (``batchkit_nonce``), so that a callback receiver
trusts only POSTs that carry what the journal holds."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs, urlsplit

NONCE = "batchkit_nonce"


def with_nonce(url: str) -> str:
    """``url`` with a fresh nonce of its own in its query."""
    return f"{url}{'&' if '?' in url else '?'}{NONCE}={secrets.token_hex(16)}"


def nonce_of(url: object) -> str | None:
    """The nonce in ``url``'s query; None without one."""
    if not isinstance(url, str):
        return None
    found = parse_qs(urlsplit(url).query).get(NONCE)
    return found[-1] if found else None


def same_nonce(given: str | None, kept: str | None) -> bool:
    """Whether two nonces are the same (compared in constant time), neither missing."""
    return bool(given) and bool(kept) and hmac.compare_digest(str(given), str(kept))
