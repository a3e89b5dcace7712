"""Provider options given as typed objects or plain mappings, checked strictly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs
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


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def closest(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the known name closest to ``name``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def choice(*values: str) -> Validator:
    """An option that is one of ``values`` (or None)."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value not in values:
            hint = closest(str(value), values)
            raise InputError(f"{attribute.name}: {value!r} is not one of {', '.join(values)}{hint}")

    return check


def flag(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An option that is true, false or None."""
    if value is not None and not isinstance(value, bool):
        raise InputError(f"{attribute.name}: expected true or false, got {value!r}")


def text(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An option that is a string or None."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"{attribute.name}: expected text, got {value!r}")


def number(*, minimum: float | None = None, above: float | None = None, maximum: float | None = None,
           whole: bool = False) -> Validator:  # fmt: skip
    """An option that is a number (``whole``: an integer) in a range, or None."""
    kinds = "a whole number" if whole else "a number"
    bounds = [f">= {minimum}" if minimum is not None else "", f"> {above}" if above is not None else "",
              f"<= {maximum}" if maximum is not None else ""]  # fmt: skip
    wanted = " ".join([kinds, *[b for b in bounds if b]])

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        ok = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        if not ok or (maximum is not None and value > maximum):
            raise InputError(f"{attribute.name}: expected {wanted}, got {value!r}")

    return check


def _literal_hook(t: Any) -> Callable[[Any, Any], Any]:
    allowed = get_args(t)

    def structure(value: Any, _: Any) -> Any:
        if value not in allowed:
            hint = closest(str(value), [str(a) for a in allowed])
            raise InputError(f"{value!r} is not one of {', '.join(map(str, allowed))}{hint}")
        return value

    return structure


def _is_literal(t: Any) -> bool:
    return bool(get_origin(t) == Literal)


_strict.register_structure_hook_factory(_is_literal, _literal_hook)


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        words = []
        for name in sorted(exc.extra_fields):
            words.append(f"unknown option {name!r}" + (closest(name, known) or f"; known: {', '.join(known)}"))
        return "; ".join(words)
    if isinstance(exc, (ValueError, TypeError)) and str(exc):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def _in_words(problem: str) -> str:
    """cattrs' ``message @ $.a.b`` as ``a.b: message`` (a validator's own field name joins the path)."""
    message, sep, path = problem.rpartition(" @ $")
    if not sep:
        return problem
    where = path.lstrip(".")
    field, colon, rest = message.partition(": ")
    if colon and field.isidentifier() and " " not in field:
        where, message = f"{where}.{field}" if where else field, rest
    return f"{where}: {message}" if where else message


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
                problems = [_in_words(p) for p in cattrs.transform_error(exc, format_exception=_describe)]
            else:
                problems = [str(exc)]
            raise InputError(f"invalid {provider} options: {'; '.join(problems)}") from None
    raise InputError(f"{provider} options must be a {cls.__name__} or a mapping, not {type(value).__name__}")
