"""Presigned URLs are secrets: their query (``X-Amz-Signature``, ``X-Amz-Credential``,
``X-Amz-Security-Token``, Google's and Azure's) is cut off wherever one would be shown, and httpx's own
request log line (INFO on the ``httpx`` logger) gets the same treatment from :class:`SignedUrlFilter`."""

from __future__ import annotations

import logging
import re

import httpx

_SIGNED = re.compile(r"(?:^|[?&])(?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
                     r"x-goog-credential|signature|sig)=", re.IGNORECASE)  # fmt: skip


def is_signed(url: str | httpx.URL) -> bool:
    """Whether ``url``'s query carries a signature or credential."""
    query = url.query.decode("ascii", "replace") if isinstance(url, httpx.URL) else str(url).partition("?")[2]
    return bool(_SIGNED.search("?" + query))


def unsigned(url: str) -> str:
    """``url`` without its query where that carries a signature (else as it is)."""
    return url.partition("?")[0] + "?<signed>" if is_signed(url) else url


class SignedUrlFilter(logging.Filter):
    """Rewrites a log record's URL arguments that carry a signature to ``scheme://host/path?<signed>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, (httpx.URL, str)) and is_signed(a) for a in args):
            record.args = tuple(unsigned(str(a)) if isinstance(a, (httpx.URL, str)) else a for a in args)
        return True


def guard_httpx_log() -> None:
    """Install :class:`SignedUrlFilter` on the ``httpx`` logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, SignedUrlFilter) for f in logger.filters):
        logger.addFilter(SignedUrlFilter())
