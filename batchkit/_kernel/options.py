"""Provider options given as typed objects or plain mappings, checked strictly."""

from __future__ import annotations

from collections.abc import Mapping
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import cattrs

from batchkit.errors import InputError

from .not_given import NotGiven

T = TypeVar("T")

_strict = cattrs.Converter(forbid_extra_keys=True)


def _exact(kind: type[Any]) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {value!r}")
        return value

    return structure


for _kind in (bool, str):
    _strict.register_structure_hook(_kind, _exact(_kind))


def _may_be_not_given(t: Any) -> bool:
    return get_origin(t) in (Union, UnionType) and NotGiven in get_args(t)


def _given(t: Any) -> Any:
    """An option typed ``X | NotGiven``: a value present in the mapping is structured as ``X``."""
    rest = tuple(a for a in get_args(t) if a is not NotGiven)
    inner: Any = rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007 - built from a tuple of types
    return lambda value, _: _strict.structure(value, inner)


_strict.register_structure_hook_factory(_may_be_not_given, _given)


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, (ValueError, TypeError)) and str(exc):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def coerce_options(value: Any, cls: type[T], provider: str) -> T:
    """``value`` as ``cls``: None gives the defaults; a mapping is checked key by key."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        try:
            return _strict.structure(dict(value), cls)
        except Exception as exc:
            if isinstance(exc, cattrs.BaseValidationError):
                problems = cattrs.transform_error(exc, format_exception=_describe)
            else:
                problems = [str(exc)]
            raise InputError(f"invalid {provider} options: {'; '.join(problems)}") from None
    raise InputError(f"{provider} options must be a {cls.__name__} or a mapping, not {type(value).__name__}")
