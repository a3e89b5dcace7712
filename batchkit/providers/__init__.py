"""The provider registry: built-in providers by name, third-party ones by entry point, and what
each can do beyond its wire (:mod:`batchkit.providers.capabilities`).

A package adds a provider by declaring an entry point in the ``batchkit.providers`` group that names
a :class:`~batchkit.providers.base.Provider` subclass, and its emulator fake in the
``batchkit.emulators`` group (``"module:Class"`` of a :class:`batchkit.emulator.Fake`), or by calling
:func:`register`.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from batchkit.errors import ConfigError
from batchkit.models import FileResult, JobStatus

from .base import Provider, Submission
from .capabilities import Judges, Presentation, Verdict, presented

P = TypeVar("P", bound="Provider[Any, Any]")

ENTRY_POINT_GROUP = "batchkit.providers"
"""The entry-point group third-party providers are declared in."""
FAKE_GROUP = "batchkit.emulators"
"""The entry-point group emulator fakes of third-party providers are declared in."""

_BUILTIN = {
    "hive": "batchkit.providers.hive:HiveProvider",
    "hume": "batchkit.providers.hume:HumeProvider",
    "hume-expression": "batchkit.providers.hume_expression:HumeExpressionProvider",
    "reality-defender": "batchkit.providers.reality_defender:RealityDefenderProvider",
    "resemble": "batchkit.providers.resemble:ResembleProvider",
}
_FAKES = {
    "hive": "batchkit.providers.hive.emulator:HiveFake",
    "hume": "batchkit.providers.hume.emulator:HumeFake",
    "hume-expression": "batchkit.providers.hume_expression.emulator:HumeExpressionFake",
    "reality-defender": "batchkit.providers.reality_defender.emulator:RealityDefenderFake",
    "resemble": "batchkit.providers.resemble.emulator:ResembleFake",
}
_registered: dict[str, type[Provider[Any, Any]]] = {}
_registered_fakes: dict[str, str] = {}


def entry_points(group: str) -> Any:
    """The installed packages' entry points in ``group`` (importlib.metadata is loaded only here)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def register(cls: type[P], fake: str | None = None) -> type[P]:
    """Register a provider class under ``cls.name`` (usable as a decorator), with its emulator fake."""
    _registered[cls.name] = cls
    if fake is not None:
        _registered_fakes[cls.name] = fake
    return cls


def fake_of(name: str) -> str | None:
    """``"module:Class"`` of the emulator fake registered beside provider ``name``; None if it has none."""
    key = name.strip().lower()
    if key in _registered_fakes or key in _FAKES:
        return _registered_fakes.get(key) or _FAKES[key]
    found = [ep.value for ep in entry_points(group=FAKE_GROUP) if ep.name == key]
    return found[0] if found else None


def presentation(provider: str | type[Provider[Any, Any]]) -> Presentation:
    """How provider ``provider`` presents results: its own rows and samples where it has them."""
    return presented(get_provider(provider) if isinstance(provider, str) else provider)


def available() -> list[str]:
    """Names of every provider that can be chosen."""
    names = set(_BUILTIN) | set(_registered)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get_provider(name: str) -> type[Provider[Any, Any]]:
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


UNANSWERED = frozenset({"not_applicable", "error"})
"""Verdicts a fallback chain asks its next provider about."""


def judge(provider: str | None) -> type[Judges] | None:
    """Provider ``provider``'s class where it is a detector (maps its results to verdicts), else None."""
    try:
        found = get_provider(provider) if provider else None
    except ConfigError:
        return None
    return found if isinstance(found, Judges) else None


def verdict(result: FileResult[Any]) -> Verdict:
    """The verdict of one result, by its provider's own mapping (``not_applicable`` for a provider that
    is no detector)."""
    provider = judge(result.provider)
    if provider is None:
        return Verdict("not_applicable", None, f"{result.provider or 'this provider'} is not a deepfake detector")
    return provider.verdict(result)


def unanswered(result: FileResult[Any]) -> bool:
    """Whether a fallback chain sends this file on: it failed, or its verdict is one of :data:`UNANSWERED`."""
    return result.status is JobStatus.FAILED or verdict(result).verdict in UNANSWERED


__all__ = ["ENTRY_POINT_GROUP", "FAKE_GROUP", "UNANSWERED", "Provider", "Submission", "available", "fake_of",
           "get_provider", "judge", "presentation", "register", "unanswered", "verdict"]
