"""The provider registry: built-in providers by name, third-party ones by entry point.

A package adds a provider by declaring an entry point in the ``batchkit.providers`` group
that names a :class:`~batchkit.providers.base.Provider` subclass, or by calling :func:`register`.
"""

from __future__ import annotations

import importlib
from typing import Any

from batchkit.errors import ConfigError

from .base import Provider, Submission

ENTRY_POINT_GROUP = "batchkit.providers"
"""The entry-point group third-party providers are declared in."""

_BUILTIN = {
    "hume": "batchkit.providers.hume:HumeProvider",
    "hume-expression": "batchkit.providers.hume_expression:HumeExpressionProvider",
    "resemble": "batchkit.providers.resemble:ResembleProvider",
}
_registered: dict[str, type[Provider]] = {}


def entry_points(group: str) -> Any:
    """The installed packages' entry points in ``group`` (importlib.metadata is loaded only here)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def register(cls: type[Provider]) -> type[Provider]:
    """Register a provider class under ``cls.name`` (usable as a decorator)."""
    _registered[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of every provider that can be chosen."""
    names = set(_BUILTIN) | set(_registered)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get_provider(name: str) -> type[Provider]:
    """The provider class registered as ``name``."""
    key = name.strip().lower()
    if key in _registered:
        return _registered[key]
    target = _BUILTIN.get(key)
    if target is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == key]
        if not found:
            raise ConfigError(f"unknown provider {name!r}; available: {', '.join(available())}")
        cls = found[0].load()
    else:
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"provider {name!r} does not name a batchkit Provider class")
    return register(cls)


__all__ = ["ENTRY_POINT_GROUP", "Provider", "Submission", "available", "get_provider", "register"]
