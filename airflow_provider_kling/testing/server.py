"""The Python handle: run the simulator with uvicorn in a background thread, and steer it."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import uvicorn

from airflow_provider_kling.testing.accounts import DEFAULT_PACK_UNITS
from airflow_provider_kling.testing.app import create_app
from airflow_provider_kling.testing.faults import ImageFault
from airflow_provider_kling.testing.state import Settings, SimulatorConfig, SimulatorState, key_fingerprint
from airflow_provider_kling.testing.tasks import IMAGE_PATH, describe_task

_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - only compared, never bound here


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class KlingSimulator:
    """A Kling-compatible server on a loopback port, in this process.

    >>> with KlingSimulator(latency=0.5, slots=4) as sim:
    ...     os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = sim.airflow_conn_json()

    ``port=0`` picks a free port; a host other than loopback needs ``allow_remote=True``.
    ``accounts`` maps keys to account names (keys of one account share its slots, tasks and
    resource packs); each account starts with a pack of ``pack_units``. Every other keyword is a
    :class:`~airflow_provider_kling.testing.state.Settings` field (``latency``, ``slots``,
    ``progress``, ``retention`` ...); settings can change while it runs (:meth:`configure` and the
    ``set_*`` methods), and :meth:`reset` restores them.
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        extra_keys: tuple[str, ...] | list[str] = (),
        jwt_keys: Mapping[str, str] | None = None,
        latency: float = 0.0,
        slots: int = 8,
        fail_marker: str = "#fail",
        image_ttl: float | None = None,
        webhook_secret: str | None = None,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        allow_remote: bool = False,
        accounts: Mapping[str, str] | None = None,
        pack_units: float = DEFAULT_PACK_UNITS,
        **settings: Any,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to serve on {host!r}: the control routes have no authentication; "
                "bind a loopback address, or pass allow_remote=True (--allow-remote) on a trusted network"
            )
        config = SimulatorConfig.from_kwargs(
            api_key=api_key,
            extra_keys=extra_keys,
            jwt_keys=jwt_keys,
            webhook_secret=webhook_secret,
            accounts=accounts,
            pack_units=pack_units,
            latency=latency,
            slots=slots,
            fail_marker=fail_marker,
            image_ttl=image_ttl,
            delay=delay,
            **settings,
        )
        self.state = SimulatorState(config)
        self.app = create_app(self.state)
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.root_url if self._port else "not started"
        return f"<KlingSimulator {where}>"

    # lifecycle
    def start(self, timeout: float = 10.0) -> KlingSimulator:
        """Serve in a background thread; return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level=self._log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="kling-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the Kling simulator did not start on {self.host}:{self._port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> KlingSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # addresses
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator has not been started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT``: serves ``/v1/...`` like Kling's own hosts, and ``/_sim/...``."""
        host = "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/kling``: the reseller-style base URL a Kling connection's host takes."""
        return f"{self.root_url}/kling"

    @property
    def api_key(self) -> str:
        return self.state.config.api_key

    def airflow_conn_json(self, conn_type: str = "kling") -> str:
        """The value for ``AIRFLOW_CONN_KLING_DEFAULT`` pointing at this simulator."""
        return json.dumps({"conn_type": conn_type, "host": self.base_url, "password": self.api_key})

    # inspection
    def counters(self, api_key: str | None = None) -> dict[str, Any]:
        """Counters (requests, creates, queries, lists, images, callbacks, faults) of one key (the key
        or its fingerprint), or of every key: ``{fingerprint: counters}``."""
        return self.state.counters(api_key)

    def tasks(self, api_key: str | None = None) -> list[dict[str, Any]]:
        """Every task as Kling shows it now (newest first), plus its key's fingerprint (``key``, see
        :meth:`key_fingerprint`) and its ``request`` body. ``api_key``: the key or its fingerprint."""
        now, root = time.time(), f"{self.root_url}{IMAGE_PATH}"
        return [describe_task(task, image_root=root, now=now) for task in self.state.list_tasks(api_key)]

    @staticmethod
    def key_fingerprint(api_key: str) -> str:
        """How :meth:`tasks`, :meth:`counters` and the control routes show a key: ``sha256(key)[:12]``."""
        return key_fingerprint(api_key)

    @property
    def settings(self) -> Settings:
        return self.state.settings

    # control
    def reset(self) -> None:
        """Forget tasks, counters and faults; restore the start-up settings."""
        self.state.reset()

    def reset_counters(self) -> None:
        self.state.reset_counters()

    def fail_next(self, k: int = 1, status: int = 500) -> None:
        """The next ``k`` API requests answer ``status`` (5xx), code 5000 (5001 for 503, 5002 for 504)."""
        self.state.add_faults(fail_next=k, status=status)

    def rate_limit_next(self, k: int = 1, retry_after: float | None = None) -> None:
        """The next ``k`` API requests answer 429 / code 1303, with ``Retry-After`` when given."""
        self.state.add_faults(rate_limit_next=k, retry_after=retry_after)

    def malformed_next(self, k: int = 1) -> None:
        """The next ``k`` API requests answer 200 with a body that is not JSON."""
        self.state.add_faults(malformed_next=k)

    def lose_next_create_answers(self, k: int = 1, mode: str = "hold", hold_seconds: float = 30.0) -> None:
        """The next ``k`` creates are processed (task created, slots taken, counted) but their answer is lost.

        ``mode="hold"`` answers only after ``hold_seconds`` (past a client's read timeout);
        ``mode="reset"`` sends the start of the answer and then breaks the connection.
        """
        self.state.lose_create_answers(k, mode, hold_seconds)

    def garble_next_create_answers(self, k: int = 1) -> None:
        """The next ``k`` creates are processed, then answered 200 with an HTML "Bad Gateway" page."""
        self.state.garble_create_answers(k)

    def image_fault(self, mode: str | None, k: int | None = None, **params: Any) -> None:
        """Image downloads misbehave: the next ``k`` of them, or every one until ``image_fault(None)``.

        ``"html"``: 200 ``text/html`` "Access denied"; ``"redirect"``: 302 to ``location=``;
        ``"huge"``: 200 ``image/png`` of ``size=`` bytes (a PNG header, then padding), with a
        Content-Length unless ``length=False``; ``"short"``: a Content-Length larger than the
        bytes sent, then the connection closes; ``"not_image"``: ``image/png`` bytes of no image format;
        ``"expired"``: HTTP ``status=`` 403, 404 (default) or 410, as a CDN answers a purged file.
        """
        self.state.set_image_fault(None if mode is None else ImageFault(mode, k, params))

    def set_ignore_external_task_id(self, ignore: bool = True) -> None:
        """Accept ``external_task_id`` on creates but forget it, like a reseller that ignores the field."""
        self.state.update_settings(ignore_external_task_id=ignore)

    def set_error_marker(self, marker: str) -> None:
        """Prompts containing ``marker`` fail for a reason that is not content policy ('' disables)."""
        self.state.update_settings(error_marker=marker)

    def set_image_index_mode(self, mode: str) -> None:
        """``"normal"``, ``"missing"`` (images carry no ``index``) or ``"repeat"`` (every ``index`` is 0)."""
        self.state.update_settings(image_index_mode=mode)

    def error_next(self, code: int, k: int = 1, retry_after: float | None = None) -> None:
        """The next ``k`` API requests answer Kling's error ``code`` (any documented one: 1101
        arrears, 1102 resource pack used up, 1103 no permission, 1301 content safety, 1302 rate
        limit, 1304 IP whitelist, 5001 maintenance ...) with its HTTP status."""
        self.state.error_next(code, k, retry_after)

    def configure(self, **changes: Any) -> Settings:
        """Change any :class:`~airflow_provider_kling.testing.state.Settings` fields at once."""
        return self.state.update_settings(**changes)

    def set_progress(self, progress: str, task_id: str | None = None) -> None:
        """``"timed"`` (the latency), ``"immediate"`` or ``"manual"``: new tasks', or one task's from now."""
        self.state.set_progress(progress, task_id)

    def seed_tasks(self, count: int, api_key: str | None = None) -> int:
        """Add ``count`` finished tasks to the key's account at once: history from other pipelines."""
        return self.state.seed_tasks(api_key or self.api_key, count)

    def advance(self, task_id: str | None = None, to: str | None = None) -> list[str]:
        """Move a task (or every running task) on now: submitted -> processing -> its end, or
        straight to ``to`` (``"processing"``, ``"succeed"``, ``"failed"``). Returns the task ids moved."""
        return [task.task_id for task in self.state.advance(task_id, to)]

    def account_of(self, api_key: str) -> str:
        """The account name a key belongs to (``accounts``, else one account per key)."""
        return self.state.account_of(api_key)

    def resource_packs(self, account: str | None = None) -> list[dict[str, Any]]:
        """The account's resource packs as ``GET /account/costs`` shows them (default: the main key's)."""
        return self.state.resource_packs(account or self.account_of(self.api_key))

    def set_resource_packs(self, packs: list[Mapping[str, Any]], account: str | None = None) -> None:
        """Replace the account's packs: dicts with Kling's names (``total_quantity``,
        ``remaining_quantity``, ``effective_time``, ``invalid_time`` in ms, ``resource_pack_name`` ...)."""
        self.state.set_resource_packs(account or self.account_of(self.api_key), packs)

    def set_delay(self, seconds: float) -> None:
        """Add ``seconds`` before every API answer."""
        self.state.update_settings(delay=seconds)

    def set_latency(self, seconds: float) -> None:
        """How long new tasks take from submitted to their end."""
        self.state.update_settings(latency=seconds)

    def set_slots(self, slots: int) -> None:
        """The per-account slot budget for new tasks."""
        self.state.update_settings(slots=slots)

    def set_fail_marker(self, marker: str) -> None:
        """Prompts containing ``marker`` fail with a content-policy message ('' disables)."""
        self.state.update_settings(fail_marker=marker)

    def set_image_ttl(self, seconds: float | None) -> None:
        """Images 404 once ``seconds`` have passed since their task succeeded (None: never)."""
        self.state.update_settings(image_ttl=seconds)
