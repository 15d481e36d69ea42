"""What a ``kling`` connection says: base URL, credentials and transport extras, read once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.errors import KlingAuthError
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL


@dataclass(frozen=True)
class KlingConnectionSettings:
    """What a ``kling`` connection says; ``repr`` never shows a key."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    proxy: str | None = field(default=None, repr=False)  # may carry user:password
    #: Whether the host finds tasks by ``external_task_id``: ``auto`` (find out), ``yes`` or ``no``.
    external_task_id_support: str = "auto"
    #: Prefix of default external task ids, so two deployments on one account never share a task.
    external_task_id_namespace: str | None = None

    @classmethod
    def from_connection(cls, conn: Any, extras: Mapping[str, Any]) -> KlingConnectionSettings:
        host = (conn.host or "").strip()
        if host and "://" not in host:
            host = f"https://{host}"
        if host and conn.port:
            scheme, _, rest = host.partition("://")
            netloc, slash, path = rest.partition("/")
            if ":" not in netloc:
                host = f"{scheme}://{netloc}:{conn.port}{slash}{path}"
        login, password = conn.login or None, conn.password or None
        if not password:
            raise KlingAuthError(
                f"Connection '{conn.conn_id}' has no password: set it to the Kling API key, "
                "or to the secret key with the access key as login."
            )
        return cls(
            base_url=(host or DEFAULT_BASE_URL).rstrip("/"),
            api_key=None if login else password,
            access_key=login,
            secret_key=password if login else None,
            connect_timeout=number_extra(extras, "connect_timeout", float, cls.connect_timeout, conn.conn_id),
            read_timeout=number_extra(
                extras,
                "read_timeout",
                float,
                number_extra(extras, "timeout", float, cls.read_timeout, conn.conn_id),
                conn.conn_id,
            ),
            max_retries=number_extra(extras, "max_retries", int, cls.max_retries, conn.conn_id),
            proxy=extras.get("proxy") or None,
            external_task_id_support=support_extra(extras, conn.conn_id),
            external_task_id_namespace=namespace_extra(extras, conn.conn_id),
        )


def number_extra(extras: Mapping[str, Any], name: str, kind: type, default: Any, conn_id: str) -> Any:
    """A numeric extra, or the default when absent; a clear error naming the extra when it is not a number."""
    value = extras.get(name)
    if value in (None, ""):
        return default
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"Connection '{conn_id}': extra '{name}' must be a number (got {value!r})") from None
    if number < 0:
        raise ValueError(f"Connection '{conn_id}': extra '{name}' must not be negative (got {value!r})")
    return number


EXTERNAL_TASK_ID_SUPPORT = ("auto", "yes", "no")


def support_extra(extras: Mapping[str, Any], conn_id: str) -> str:
    """The ``external_task_id_support`` extra: ``auto`` (default), ``yes`` or ``no``."""
    value = extras.get("external_task_id_support")
    if value in (None, ""):
        return "auto"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    if text not in EXTERNAL_TASK_ID_SUPPORT:
        raise ValueError(
            f"Connection '{conn_id}': extra 'external_task_id_support' must be one of "
            f"{', '.join(EXTERNAL_TASK_ID_SUPPORT)} (got {value!r})"
        )
    return text


def namespace_extra(extras: Mapping[str, Any], conn_id: str) -> str | None:
    """The ``external_task_id_namespace`` extra, checked."""
    from airflow_provider_kling.idempotency import check_namespace

    return check_namespace(
        extras.get("external_task_id_namespace"),
        f"Connection '{conn_id}': extra 'external_task_id_namespace'",
    )


def mask_secrets(*secrets: str | None) -> None:
    """Register keys with Airflow's secrets masker (a second line of defence; we never log them)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older task SDKs
        return
    for secret in secrets:
        if secret:
            mask_secret(secret)
