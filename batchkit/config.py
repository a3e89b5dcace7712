"""Where settings come from: arguments > environment > ``batchkit.toml`` > ``[tool.batchkit]``.

A config file holds top-level keys (``provider``, ``base_url``, ``timeout``, ``max_retries``,
``api_key``) and may override any of them per provider in a table named after it
(a table named after the provider, e.g. ``[hume]``). Keys belong in the environment; a file key is read but discouraged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx

from batchkit._kernel.options import closest
from batchkit.errors import ConfigError
from batchkit.providers import Provider, available, get_provider

log = logging.getLogger("batchkit")
"""The ``batchkit`` logger."""
DEFAULT_TIMEOUT = 60.0
"""Seconds a request may take unless ``timeout`` says."""
DEFAULT_MAX_RETRIES = 3
"""Retries of a failed read unless ``max_retries`` says."""


class Secret:
    """An API key that never shows itself in a repr, a log line or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself (only where it leaves in a request header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


@attrs.frozen
class Settings:
    """Resolved settings; ``origins`` says where each one came from."""

    provider: type[Provider[Any, Any]]
    api_key: Secret
    base_url: str
    timeout: float
    max_retries: int
    origins: Mapping[str, str] = attrs.field(factory=dict, repr=False)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError:
            raise ConfigError(f"{path}: reading TOML on Python 3.10 needs `pip install batchkit[toml]`") from None
    try:
        with open(path, "rb") as fh:
            return dict(tomllib.load(fh))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None


FILE_KEYS = ("provider", "api_key", "base_url", "timeout", "max_retries")
"""The keys of ``batchkit.toml`` (and ``[tool.batchkit]``)."""
PROVIDER_KEYS = FILE_KEYS[1:]
"""The keys of a provider's own table (``[resemble]``)."""


def _check_keys(origin: str, data: dict[str, Any]) -> dict[str, Any]:
    """Refuse a key batchkit does not read (``timout = 60`` would otherwise be ignored in silence)."""
    providers = available()
    for key, value in data.items():
        if isinstance(value, dict) and key in providers:
            known: tuple[str, ...] = PROVIDER_KEYS
            unknown = [k for k in value if k not in known]
            where = f"[{key}] "
        else:
            known, unknown, where = (*FILE_KEYS, *providers), [] if key in FILE_KEYS else [key], ""
        for name in unknown:
            hint = closest(name, known) or f"; known: {', '.join(known)}"
            raise ConfigError(f"{origin}: unknown key {where}{name!r}{hint}")
    return data


def _file_layers(config_file: str | os.PathLike[str] | None, cwd: Path) -> list[tuple[str, dict[str, Any]]]:
    layers = _files(config_file, cwd)
    return [(origin, _check_keys(origin, data)) for origin, data in layers]


def _files(config_file: str | os.PathLike[str] | None, cwd: Path) -> list[tuple[str, dict[str, Any]]]:
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return [(str(path), _read_toml(path))]
    layers = []
    toml = cwd / "batchkit.toml"
    if toml.is_file():
        layers.append((str(toml), _read_toml(toml)))
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("batchkit")
        if isinstance(section, dict):
            layers.append((f"{pyproject} [tool.batchkit]", section))
    return layers


def chain_of(provider: str | Sequence[str] | None, config_file: str | os.PathLike[str] | None = None,
             env: Mapping[str, str] | None = None, cwd: Path | None = None) -> list[str] | None:  # fmt: skip
    """The providers of a chain, where ``provider`` (or, when None, ``$BATCHKIT_PROVIDER`` or a config
    file's ``provider``) names several: a list, or names joined by commas; None for one provider."""
    named: Any = provider
    if named is None:
        env = os.environ if env is None else env
        named = env.get("BATCHKIT_PROVIDER") or next(
            (data["provider"] for _, data in _file_layers(config_file, cwd or Path.cwd()) if "provider" in data), None)
    if isinstance(named, str):
        named = [n.strip() for n in named.split(",")] if "," in named else None
    if named is None:
        return None
    if isinstance(named, (bytes, bytearray)) or not all(isinstance(n, str) and n.strip() for n in named):
        raise ConfigError(f"a chain is a list of provider names, got {named!r:.80}")
    return [str(n).strip() for n in named]


def resolve(
    provider: str | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    config_file: str | os.PathLike[str] | None = None,
    allow_insecure: bool | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting, or raise :class:`ConfigError` saying what was looked at."""
    env = os.environ if env is None else env
    files = _file_layers(config_file, cwd or Path.cwd())
    looked = ["the argument", "$BATCHKIT_PROVIDER"] + [name for name, _ in files]

    def lookup(key: str, argument: Any, env_var: str | None, name: str | None) -> tuple[Any, str]:
        if argument is not None:
            return argument, "argument"
        if env_var and env.get(env_var):
            return env[env_var], f"${env_var}"
        for origin, data in files:
            table = data.get(name) if name else None
            if isinstance(table, dict) and key in table:
                return table[key], f"{origin} [{name}]"
            if key in data:
                return data[key], origin
        return None, ""

    name, name_origin = lookup("provider", provider, "BATCHKIT_PROVIDER", None)
    if not name:
        raise ConfigError(
            f"no provider configured; looked at {', '.join(looked)}. Name one: -p/--provider on the command line, "
            f'BATCHKIT_PROVIDER, or provider = "..." in batchkit.toml (one of {", ".join(available())})'
        )
    if not isinstance(name, str):
        raise ConfigError(f"provider must be a string, got {name!r} from {name_origin}")
    cls = get_provider(name)
    key, key_origin = lookup("api_key", api_key, cls.key_env, cls.name)
    if isinstance(key, str):
        key = key.strip()
    if not key or not isinstance(key, str):
        sources = ["the api_key argument", f"${cls.key_env}"] + [n for n, _ in files]
        raise ConfigError(f"no API key for {cls.name}; looked at {', '.join(sources)}")
    if not all(33 <= ord(c) <= 126 for c in key):
        raise ConfigError(
            f"the {cls.name} API key from {key_origin} has spaces, control or non-ASCII characters; "
            "an HTTP header cannot carry it (the key is not shown)"
        )
    url, url_origin = lookup("base_url", base_url, "BATCHKIT_BASE_URL", cls.name)
    url = url or cls.default_base_url
    try:
        parsed = httpx.URL(str(url))
    except Exception:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"base_url {url!r} (from {url_origin or 'default'}) is not an http(s) URL")
    insecure = allow_insecure if allow_insecure is not None else env.get("BATCHKIT_ALLOW_INSECURE", "") in ("1", "true")
    if parsed.scheme == "http" and not _loopback(parsed.host) and not insecure:
        raise ConfigError(
            f"base_url {url!r} (from {url_origin}) is plain http to another machine: the key would travel in clear; "
            "use https, or allow_insecure=True / BATCHKIT_ALLOW_INSECURE=1 if you mean it"
        )
    if url_origin and url_origin not in ("argument", "$BATCHKIT_BASE_URL"):
        log.info("%s: base_url %s comes from %s", cls.name, url, url_origin)
    t, t_origin = lookup("timeout", timeout, None, cls.name)
    r, r_origin = lookup("max_retries", max_retries, None, cls.name)
    t = DEFAULT_TIMEOUT if t is None else t
    r = DEFAULT_MAX_RETRIES if r is None else r
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < float("inf"):
        raise ConfigError(f"timeout must be a positive number of seconds, got {t!r} from {t_origin}")
    if isinstance(r, bool) or not isinstance(r, int) or r < 0:
        raise ConfigError(f"max_retries must be a non-negative integer, got {r!r} from {r_origin}")
    origins = {"provider": name_origin, "api_key": key_origin, "base_url": url_origin or "default"}
    return Settings(cls, Secret(key), str(url).rstrip("/"), float(t), r, origins)
