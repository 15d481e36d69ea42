"""What a ``kling`` connection says: base URL, credentials and transport extras, read once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.errors import KlingAuthError
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL
from airflow_provider_kling.idempotency import check_namespace
from airflow_provider_kling.masking import mask_secrets
from airflow_provider_kling.models.hosts import REGION_HOSTS, region_base_url

#: Default cap on one result image: Kling's 2k PNGs are a few MiB.
DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: Default cap on one result video. Kling's longest 4k video is kling-v3's 15 s (3840x2160 at up
#: to 60 fps); a 4K60 H.264/HEVC delivery encode runs ~40-60 Mbit/s, about 110 MB for 15 s. The
#: longest video of any kind is a 3-minute video-extend result (1080p at most): ~10-20 Mbit/s, up
#: to ~450 MB. 512 MiB holds both with room (15 s of 4K at ~280 Mbit/s), while a server streaming
#: without end is still cut off; videos are streamed, so the cap bounds disk, not memory.
DEFAULT_MAX_VIDEO_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class KlingConnectionSettings:
    """What a ``kling`` connection says; ``repr`` never shows a key, and the keys (the proxy's
    password too) are registered with the secrets masker when it is made."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    #: Seconds to wait for a connection to Kling, on every call (worker and triggerer alike).
    connect_timeout: float = 10.0
    #: Seconds to wait for an answer, on every call (the ``timeout`` extra is read when this one is absent).
    read_timeout: float = 60.0
    #: Retries of errors a retry can fix (429 with 1302/1303, 5xx, network errors).
    max_retries: int = 5
    #: Proxy URL for every call and download; a password in it is registered with the secrets masker.
    proxy: str | None = field(default=None, repr=False)  # may carry user:password
    #: TLS: verify server certificates (``verify`` extra), against ``ca_bundle`` when set.
    verify: bool = True
    #: A PEM file of CA certificates to verify Kling (or a gateway) against; default: the system's.
    ca_bundle: str | None = None
    #: A client certificate (PEM; ``client_key`` when the key is in a file of its own).
    client_cert: str | None = None
    #: The client certificate's private key (PEM), when it is not inside ``client_cert``.
    client_key: str | None = field(default=None, repr=False)
    #: Largest result image accepted, by ``Content-Length`` and while streaming.
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    #: Largest result video accepted (the ``max_video_bytes`` extra), likewise.
    max_video_bytes: int = DEFAULT_MAX_VIDEO_BYTES
    #: Hosts (``host`` or ``host:port``) on internal addresses that image URLs may point at.
    allowed_image_hosts: tuple[str, ...] = ()
    #: Whether the host finds tasks by ``external_task_id``: ``auto`` (find out), ``yes`` or ``no``.
    external_task_id_support: str = "auto"
    #: Whether the host answers ``GET /tasks`` (many tasks in one query): ``auto``, ``yes`` or ``no``.
    tasks_query_support: str = "auto"
    #: A model the host no longer serves (``models.capabilities``): ``refuse`` it before sending, or ``warn``.
    retired_models: str = "refuse"
    #: Prefix of default external task ids, so two deployments on one account never share a task.
    external_task_id_namespace: str | None = None
    #: The api-server's public base URL (``callback_base_url`` extra): where Kling sends callbacks.
    callback_base_url: str | None = None
    #: Kling's site: ``singapore`` or ``beijing``; with an empty host, the host follows. Keys do not
    #: cross regions (UNCONFIRMED). Unset: the host as given (empty: the default host).
    region: str | None = None

    def __post_init__(self) -> None:
        mask_secrets(self.api_key, self.secret_key, self.proxy_password)

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
        region = region_extra(extras, conn.conn_id)
        try:
            host = region_base_url(host, region)
        except ValueError as exc:
            raise ValueError(f"Connection '{conn.conn_id}': {exc}") from None
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
            verify=bool_extra(extras, "verify", True, conn.conn_id),
            ca_bundle=extras.get("ca_bundle") or None,
            client_cert=extras.get("client_cert") or None,
            client_key=extras.get("client_key") or None,
            max_image_bytes=number_extra(extras, "max_image_bytes", int, cls.max_image_bytes, conn.conn_id),
            max_video_bytes=number_extra(extras, "max_video_bytes", int, cls.max_video_bytes, conn.conn_id),
            allowed_image_hosts=hosts_extra(extras, "allowed_image_hosts", conn.conn_id),
            external_task_id_support=support_extra(extras, conn.conn_id),
            tasks_query_support=support_extra(extras, conn.conn_id, "tasks_query"),
            retired_models=choice_extra(extras, "retired_models", RETIRED_MODELS, conn.conn_id),
            external_task_id_namespace=namespace_extra(extras, conn.conn_id),
            callback_base_url=callback_base_url_extra(extras, conn.conn_id),
            region=region,
        )

    @property
    def proxy_password(self) -> str | None:
        """The password inside the proxy URL, if any (registered with the secrets masker)."""
        if not self.proxy:
            return None
        from urllib.parse import unquote, urlsplit

        password = urlsplit(self.proxy).password
        return unquote(password) if password else None


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


def bool_extra(extras: Mapping[str, Any], name: str, default: bool, conn_id: str) -> bool:
    """A true/false extra (JSON booleans or the strings true/false/1/0/yes/no)."""
    value = extras.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"Connection '{conn_id}': extra '{name}' must be true or false (got {value!r})")


def hosts_extra(extras: Mapping[str, Any], name: str, conn_id: str) -> tuple[str, ...]:
    """A list of hosts: a JSON list, or one string with commas between hosts."""
    value = extras.get(name)
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError(
            f"Connection '{conn_id}': extra '{name}' must be a list of host names (got {value!r})"
        )
    return tuple(item.strip().lower() for item in items if item.strip())


EXTERNAL_TASK_ID_SUPPORT = ("auto", "yes", "no")


def support_extra(extras: Mapping[str, Any], conn_id: str, name: str = "external_task_id_support") -> str:
    """A host-support extra (``external_task_id_support``, ``tasks_query``): ``auto``, ``yes`` or ``no``."""
    value = extras.get(name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return choice_extra(extras, name, EXTERNAL_TASK_ID_SUPPORT, conn_id)


RETIRED_MODELS = ("refuse", "warn")


def choice_extra(extras: Mapping[str, Any], name: str, choices: tuple[str, ...], conn_id: str) -> str:
    """An extra that is one of ``choices`` (the first is the default)."""
    value = extras.get(name)
    if value in (None, ""):
        return choices[0]
    text = str(value).strip().lower()
    if text not in choices:
        raise ValueError(
            f"Connection '{conn_id}': extra '{name}' must be one of {', '.join(choices)} (got {value!r})"
        )
    return text


def namespace_extra(extras: Mapping[str, Any], conn_id: str) -> str | None:
    """The ``external_task_id_namespace`` extra, checked."""
    return check_namespace(
        extras.get("external_task_id_namespace"),
        f"Connection '{conn_id}': extra 'external_task_id_namespace'",
    )


def callback_base_url_extra(extras: Mapping[str, Any], conn_id: str) -> str | None:
    """The ``callback_base_url`` extra: the api-server's public ``http(s)://`` base URL, without a query."""
    value = extras.get("callback_base_url")
    if value in (None, ""):
        return None
    from urllib.parse import urlsplit

    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"Connection '{conn_id}': extra 'callback_base_url' must be the api-server's public "
            f"http:// or https:// base URL, without a query (got {value!r})"
        )
    return text


def region_extra(extras: Mapping[str, Any], conn_id: str) -> str | None:
    """The ``region`` extra: ``singapore`` or ``beijing`` (any case), or None when unset."""
    if extras.get("region") in (None, ""):
        return None
    return choice_extra(extras, "region", tuple(REGION_HOSTS), conn_id)
