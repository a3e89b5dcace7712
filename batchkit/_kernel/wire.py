"""The one cattrs converter for provider replies: lenient, and keeping unknown fields.

Models that declare an ``extra`` field receive every key they do not know there, so a newer
API's additions are kept rather than lost or fatal. Numbers that arrive as strings are read
as numbers, and ``null`` lists become empty tuples.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Mapping
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
import httpx
from cattrs.gen import make_dict_structure_fn, override

from batchkit.errors import ResponseFormatError

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=False)

Extra = Mapping[str, Any]
"""The keys of a reply that its model does not declare."""


def extra_field() -> Any:
    """The ``extra`` field of a wire model: filled by the converter, not compared or shown."""
    return attrs.field(factory=dict, repr=False, eq=False)


def number(value: Any, cls: type[Any]) -> Any:
    """``value`` as ``cls`` (int or float), accepting numbers sent as strings."""
    if type(value) is cls:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return cls(float(value)) if cls is int and isinstance(value, str) else cls(value)


def text(value: Any, _: type[Any]) -> str:
    """``value`` as a string; objects and lists are not strings."""
    if isinstance(value, (dict, list)):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _strict_bool(value: Any, _: type[Any]) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _as_dict(value: Any, _: type[Any]) -> Any:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


converter.register_structure_hook(float, number)
converter.register_structure_hook(int, number)
converter.register_structure_hook(str, text)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook_func(lambda t: t is Mapping[str, Any] or t is dict[str, Any], _as_dict)


def _is_homogeneous_tuple(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook(t: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
    item = get_args(t)[0]
    structure_item = converter.get_structure_hook(item)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple([structure_item(v, item) for v in value])

    return structure


def _has_extra(t: Any) -> bool:
    return attrs.has(t) and "extra" in attrs.fields_dict(t)


def _extra_hook(cls: Any) -> Callable[[Any, Any], Any]:
    base = make_dict_structure_fn(cls, converter, extra=override(omit=True))
    known = frozenset(f.name for f in attrs.fields(cls) if f.name != "extra")

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            raise TypeError(f"expected an object for {cls.__name__}, got {type(value).__name__}")
        obj = base(value, cls)
        if known.issuperset(value):
            return obj
        return attrs.evolve(obj, extra={k: v for k, v in value.items() if k not in known})

    return structure


def _is_optional(t: Any) -> bool:
    args = get_args(t)
    return len(args) == 2 and type(None) in args and get_origin(t) in (Union, UnionType)


def _optional_hook(t: Any) -> Callable[[Any, Any], Any]:
    """``X | None`` without cattrs' general union machinery (a hot path in big payloads)."""
    inner = next(a for a in get_args(t) if a is not type(None))
    structure_inner = converter.get_structure_hook(inner)

    def structure(value: Any, _: Any) -> Any:
        return None if value is None else structure_inner(value, inner)

    return structure


converter.register_structure_hook_factory(_is_optional, _optional_hook)
converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook)
converter.register_structure_hook_factory(_has_extra, _extra_hook)


class collector_paused:
    """Pause the cyclic garbage collector: a large reply allocates millions of objects that all survive,
    and collecting while they are made only costs time (parsing 50 MB of predictions: about 40%).
    A class, not a generator: it runs around every reply's parse, however small."""

    __slots__ = ("_collecting",)

    def __enter__(self) -> None:
        self._collecting = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._collecting:
            gc.enable()


def structure(data: Any, cls: type[T], what: str) -> T:
    """Structure ``data`` into ``cls``; any mismatch is a :class:`ResponseFormatError`."""
    try:
        with collector_paused():
            return converter.structure(data, cls)
    except Exception as exc:
        raise ResponseFormatError(f"unexpected {what} ({type(exc).__name__}: {exc})") from exc


def read_json(response: httpx.Response, what: str) -> Any:
    """The JSON body of a successful reply, or a :class:`ResponseFormatError` with a snippet."""
    try:
        with collector_paused():
            return json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise ResponseFormatError(
            f"{what} is not JSON (or nested too deeply)", status_code=response.status_code, snippet=response.text[:200]
        ) from exc


def read_list(response: httpx.Response, what: str) -> list[Any]:
    """The JSON list body of a successful reply, or a :class:`ResponseFormatError`."""
    body = read_json(response, what)
    if not isinstance(body, list):
        raise ResponseFormatError(f"{what} is not a list", snippet=response.text[:200])
    return body
