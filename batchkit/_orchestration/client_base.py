"""What both clients share besides executing steps: construction, settings, identity, argument types."""

from __future__ import annotations

import copy
import enum
import functools
import os
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

import attrs
import httpx

if TYPE_CHECKING:
    from typing_extensions import Required, Self, Unpack

from batchkit._kernel.clock import SYSTEM_CLOCK, Clock
from batchkit._kernel.inputs import Progress
from batchkit._kernel.journal import default_journal
from batchkit._kernel.not_given import NOT_GIVEN, NotGiven
from batchkit._kernel.retry import RetryPolicy
from batchkit.config import resolve
from batchkit.errors import ClientClosedError, ConfigError, InputError
from batchkit.observing import NO_OBSERVER, Observer

from .operations import KeyAuth, Operations, request_timeout
from .sending import Sender
from .waiting import OnUpdate, PollSchedule

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class SubmitInputs(TypedDict, total=False):
    """Keyword arguments of ``submit`` besides ``files``."""

    urls: Sequence[str] | None
    text: Sequence[str] | str | None
    zip: str | os.PathLike[str] | None
    callback_url: str | None
    options: Any


class RunInputs(TypedDict, total=False):
    """Keyword arguments of ``enqueue``."""

    journal: Required[str | os.PathLike[str]]
    """A sqlite file, or a ``postgresql://`` URL (``batchkit[postgres]``): it records the run, each
    chunk before and after it is sent, and each file's result."""
    chunk: int | None
    """At most this many files a job (default: the provider's limit)."""
    run_key: str | None
    """Your name for the run (an engine's task id, a date): the same key with the same files and settings
    is the run recorded before; with others, :class:`~batchkit.RunKeyConflictError`. Without one, the run
    is named by its files and settings."""
    callback_url: str | None
    options: Any


class ManyInputs(RunInputs, total=False):
    """Keyword arguments of ``submit_many``."""

    resend_ambiguous: bool
    """Send again chunks whose earlier send was interrupted and could not be matched to a job."""
    wait: bool
    """Also follow the jobs until they end and collect their results into the journal."""
    rate: float | None
    """At most this many creates a second, shared by everything working on the journal."""
    settle: float
    """Seconds after an interrupted send's intent that the provider's authoritative lookup must still not
    find it before it is sent again by itself (default 600; the upload of a create is bounded to half of
    it, so choose it above twice the provider's idle timeout). A lookup that cannot tell is never resent."""
    lease: float
    """Seconds a chunk being sent is held without a renewal (default 30): how long a resume waits for
    the chunks of a process that was killed (SIGKILL) rather than stopped."""


class WorkOptions(TypedDict, total=False):
    """Keyword arguments of ``work``."""

    until_done: bool
    """Stop when no run has work left (default: work until cancelled)."""
    run: str | None
    """Work on this run only."""
    concurrency: int | None
    """Chunks worked at once (default: the client's ``PollSchedule.concurrency``)."""
    lease: float
    """Seconds a claimed chunk is held without a renewal (default 30); a worker renews its leases
    every third of that, and a chunk whose lease ran out is taken over by another worker."""
    rate: float | None
    """At most this many creates a second across every worker of this provider and key (a 429 pauses
    every request of every worker until its Retry-After)."""
    settle: float
    """Seconds after an interrupted send's intent that the provider's authoritative lookup must still not
    find it before it is sent again by itself (default 600; the upload of a create is bounded to half of
    it, so choose it above twice the provider's idle timeout). A lookup that cannot tell is never resent."""
    idle: float | None
    """The longest rest between looks at the journal when nothing is due: 1 s on sqlite; 30 s on PostgreSQL,
    whose journal wakes idle workers (``LISTEN``/``NOTIFY``) when a run is enqueued or a chunk is freed."""
    prune: float | None
    """Also delete the runs created more than this many seconds ago that are over, as ``batchkit prune``
    does: at start and every ten minutes, by one worker of the fleet at a time (default: never)."""


class WaitOptions(TypedDict, total=False):
    """Keyword arguments of ``wait_all`` and ``as_completed``."""

    timeout: float | None
    """Give up after this many seconds (:class:`WaitTimeoutError` carries every job's last state)."""
    poll_interval: float | None
    """A fixed interval instead of the client's :class:`PollSchedule`."""
    on_update: OnUpdate | None
    """Called with a job whenever its status changes."""


class ClientSettings(TypedDict, total=False):
    """Keyword arguments of ``connect``/``connect_async`` and of the client constructors."""

    api_key: str | None
    """The key (default: the provider's environment variable, then the config file)."""
    base_url: str | None
    timeout: float | None
    """Seconds for one request (default 60; uploads get at least 300 s to read and write)."""
    max_retries: int | None
    config_file: str | os.PathLike[str] | None
    allow_insecure: bool | None
    """Allow a plain-http ``base_url`` that is not this machine (default: refused; the key would travel in clear)."""
    retry: RetryPolicy | None
    """The whole retry policy (overrides ``max_retries``)."""
    poll: PollSchedule | None
    """How jobs are polled, and the client's concurrency budget."""
    on_upload: Progress | None
    """Told the bytes read for upload as they are sent."""
    clock: Clock | None
    """The time operations see (tests inject a fake one)."""
    max_reply_bytes: int | None
    """The largest reply read into memory (default: 16 MiB for a job, 1 GiB for a job's predictions)."""
    observer: Observer | None
    """Told of every request, create, retry, pause and worker step as it happens (metrics, traces,
    structured logs: see :mod:`batchkit.observing`)."""
    journal: str | os.PathLike[str] | None
    """Where ``submit`` records the runs of a provider whose reply is the result (``hume-expression``),
    and ``get``/``results`` read them (default: ``BATCHKIT_JOURNAL``, else ``journal.db`` in batchkit's
    data directory)."""


class ClientState(enum.Enum):
    """A client's lifetime, as httpx's: its threads are made on first use and never again once closed."""

    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class Threads:
    """A client's threads, shared by the copies ``with_options`` makes: ``size`` for requests (the sync
    client's concurrency budget), and others for disk work (:class:`Blocking` steps, on both clients),
    so disk work never waits behind a request, nor a lease renewal behind a slow prepare."""

    DISK = 256
    """The most disk threads at once (threads are made only when every one is busy)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.state = ClientState.UNOPENED
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`ClientClosedError` once the client is closed."""
        if self.state is ClientState.CLOSED:
            raise ClientClosedError("the client was closed; make a new one")

    def pool(self, kind: str) -> ThreadPoolExecutor:
        """The ``"requests"`` or ``"disk"`` threads, made on first use."""
        with self._lock:
            self.check()
            found = self._pools.get(kind)
            if found is None:
                size = self.size if kind == "requests" else self.DISK
                found = self._pools[kind] = ThreadPoolExecutor(size, thread_name_prefix=f"batchkit-{kind}")
                self.state = ClientState.OPENED
            return found

    def close(self) -> None:
        """No thread is made again; the threads end once their work is done."""
        with self._lock:
            self.state, pools = ClientState.CLOSED, list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.shutdown(wait=True)


class ClientBase(Generic[HttpT]):
    """Holds the operations and the httpx client; subclasses only execute operations."""

    http_type: ClassVar[type[Any]]

    def __init__(
        self, provider: str | None = None, *, http_client: HttpT | None = None, **settings: Unpack[ClientSettings]
    ) -> None:
        unknown = sorted(set(settings) - set(ClientSettings.__annotations__))
        if unknown:
            known = ", ".join(ClientSettings.__annotations__)
            raise ConfigError(f"unknown client setting {unknown[0]!r}; the settings are {known}")
        retry, poll = settings.pop("retry", None), settings.pop("poll", None)
        on_upload, clock = settings.pop("on_upload", None), settings.pop("clock", None)
        reply_limit, journal = settings.pop("max_reply_bytes", None), settings.pop("journal", None)
        observer = settings.pop("observer", None)
        if observer is not None and not isinstance(observer, Observer):
            raise InputError(f"observer must be a batchkit.observing.Observer, got {type(observer).__name__}")
        if reply_limit is not None and (isinstance(reply_limit, bool) or not isinstance(reply_limit, int)
                                        or reply_limit < 1):  # fmt: skip
            raise InputError(f"max_reply_bytes must be a positive integer, got {reply_limit!r}")
        resolved = resolve(provider, api_key=settings.get("api_key"), base_url=settings.get("base_url"),
                           timeout=settings.get("timeout"), max_retries=settings.get("max_retries"),
                           config_file=settings.get("config_file"),
                           allow_insecure=settings.get("allow_insecure"))  # fmt: skip
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InputError(f"retry must be a batchkit.RetryPolicy, got {type(retry).__name__}")
        if poll is not None and not isinstance(poll, PollSchedule):
            raise InputError(f"poll must be a batchkit.PollSchedule, got {type(poll).__name__}")
        adapter = resolved.provider(resolved.base_url)
        sender = Sender(
            adapter,
            retry or RetryPolicy(max_retries=resolved.max_retries),
            request_timeout(resolved.timeout),
            clock or SYSTEM_CLOCK,
            reply_limit,
            observer=observer or NO_OBSERVER,
        )
        auth = KeyAuth(resolved.provider.auth_headers, resolved.api_key, resolved.base_url)
        self._ops: Operations = Operations(adapter, sender, auth, poll or PollSchedule(), on_upload,
                                           journal or default_journal())  # fmt: skip
        self._http: HttpT
        self._http, self._open_to = (http_client, None) if http_client is not None else self._own_http(tls_context())
        """``_open_to(base_url)``: whether a request there goes on a connection already open whose waits keep an
        exchange's deadline (the sync client's own); None: none does."""
        self._owns_http = http_client is None
        self._threads = Threads(self._ops.poll.concurrency)
        self._is_copy = False

    @classmethod
    def _own_http(cls, verify: Any) -> tuple[HttpT, Callable[[str], bool] | None]:
        """The httpx client made when none is given, and whether a request to a base URL would go on a
        connection already open that keeps an exchange's deadline (None: none does)."""
        return cls.http_type(verify=verify), None

    def _check_open(self) -> None:
        """Raise :class:`ClientClosedError` when this client, or the httpx client it was given, is closed."""
        self._threads.check()
        if self._http.is_closed:
            raise ClientClosedError("the httpx client this client sends with was closed")

    @classmethod
    def connect(
        cls, provider: str | None = None, *, http_client: HttpT | None = None, **settings: Unpack[ClientSettings]
    ) -> Self:
        """A client for ``provider`` (or the configured one); see :class:`ClientSettings`."""
        return cls(provider, http_client=http_client, **settings)

    def with_options(
        self, *, timeout: float | NotGiven = NOT_GIVEN, max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Self:  # fmt: skip
        """A copy with other request settings, sharing this client's connections and concurrency budget."""
        policy = self._ops.sender.policy if isinstance(retry, NotGiven) else retry
        if not isinstance(policy, RetryPolicy):
            raise InputError(f"retry must be a batchkit.RetryPolicy, got {type(policy).__name__}")
        if not isinstance(max_retries, NotGiven):
            try:
                policy = attrs.evolve(policy, max_retries=max_retries)
            except (TypeError, ValueError) as exc:
                raise InputError(f"max_retries must be an integer from 0 to 100, got {max_retries!r}") from exc
        clone = copy.copy(self)
        clone._ops = self._ops.configured(timeout=_seconds(timeout), retry=policy)
        clone._owns_http, clone._is_copy = False, True
        return clone

    def _configured(self, timeout: float | NotGiven) -> Operations:
        """The operations with a per-call request ``timeout``."""
        return self._ops if isinstance(timeout, NotGiven) else self._ops.configured(timeout=_seconds(timeout))

    @property
    def provider(self) -> str:
        """The provider's name, e.g. ``"hume"``."""
        return self._ops.provider.name

    def __repr__(self) -> str:
        return f"<batchkit.{type(self).__name__} {self.provider} at {self._ops.provider.base_url}>"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client batchkit makes: building one reads the CA bundle
    (about 20 ms of CPU), and a context is safe to share."""
    return httpx.create_ssl_context()


def _seconds(value: float | NotGiven) -> float | None:
    if isinstance(value, NotGiven):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise InputError(f"timeout must be a positive, finite number of seconds, got {value!r}")
    return float(value)
