"""A sentinel for "not given", where ``None`` is a meaningful value (as httpx's ``USE_CLIENT_DEFAULT``)."""

from __future__ import annotations

import enum
from typing import Literal


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN = NotGiven.NOT_GIVEN
"""An argument or option left out: the default applies (``None``, where allowed, means "none")."""
