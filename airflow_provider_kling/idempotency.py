"""External task ids and request fingerprints: what makes "one paid generation per request" checkable.

No Airflow and no HTTP here. An external task id names one generation of one request of one task
instance: ``[<namespace>-]airflow-<instance hash>-<request fingerprint>[-<generation>]``. A retry
of the same task instance with the same request finds the same id (and so the same Kling task);
an edited request gets a new fingerprint, hence a new id and a new task.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_kling.errors import KlingRequestValidationError

if TYPE_CHECKING:
    from airflow_provider_kling.models.requests import KlingTaskRequest

#: Request fields that do not change the images: left out of the fingerprint.
NOT_OUTPUT_FIELDS: frozenset[str] = frozenset({"external_task_id", "callback_url"})
#: A namespace (connection extra ``external_task_id_namespace``) is kept short and plain.
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_GENERATION_SUFFIX = re.compile(r"^-(\d+)$")
_DEFAULT_ID = re.compile(
    r"^(?:(?P<namespace>[A-Za-z0-9][A-Za-z0-9._-]{0,31})-)?airflow-(?P<instance>[0-9a-f]{16})"
    r"-(?P<fingerprint>[0-9a-f]{12})(?:-(?P<generation>[0-9]+))?$"
)


def _short_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def request_fingerprint(request: KlingTaskRequest) -> str:
    """A 12-hex-digit hash of every validated field that changes the output.

    Taken from ``request.to_json()`` minus :data:`NOT_OUTPUT_FIELDS`, plus the request kind, so a
    field added to a request model is covered without a change here and the same fields sent to two
    endpoints are two requests.
    """
    body = {key: value for key, value in request.to_json().items() if key not in NOT_OUTPUT_FIELDS}
    body["\x00kind"] = request.kind
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _short_hash(canonical, 12)


def instance_hash(
    dag_id: str, run_id: str, task_id: str, map_index: int | None, item_key: str | None = None
) -> str:
    """A 16-hex-digit hash of one task instance (and one item of a batch task): stable across its
    tries, distinct between instances and between items."""
    index = -1 if map_index is None else map_index
    item = "" if item_key is None else f"\x1fitem\x1f{item_key}"
    return _short_hash(f"{dag_id}\x1f{run_id}\x1f{task_id}\x1f{index}{item}", 16)


def check_namespace(namespace: str | None, where: str = "external_task_id_namespace") -> str | None:
    """A valid namespace or ``None``; a clear error naming ``where`` and the rule otherwise."""
    if namespace is None or not str(namespace).strip():
        return None
    namespace = str(namespace).strip()
    if not NAMESPACE_PATTERN.match(namespace):
        raise ValueError(
            f"{where} must be 1 to 32 characters of A-Z a-z 0-9 . _ - starting with a letter or digit "
            f"(got {namespace!r})"
        )
    return namespace


def default_external_task_id(
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    fingerprint: str,
    namespace: str | None = None,
    item_key: str | None = None,
) -> str:
    """``[<namespace>-]airflow-<instance hash>-<fingerprint>``: at most 72 characters.

    ``item_key`` names one request of a batch task: it is part of the instance hash.
    """
    prefix = f"{namespace}-" if namespace else ""
    return f"{prefix}airflow-{instance_hash(dag_id, run_id, task_id, map_index, item_key)}-{fingerprint}"


def generation_external_task_id(base: str, generation: int) -> str:
    """The id of the ``generation``-th Kling task for one request: ``base``, ``base-2``, ``base-3`` ..."""
    if generation < 1:
        raise ValueError(f"generation must be >= 1 (got {generation})")
    return base if generation == 1 else f"{base}-{generation}"


def generation_of(base: str, external_task_id: str | None) -> int | None:
    """Which generation of ``base`` an external task id names, or ``None`` when it is none of them."""
    if external_task_id is None or not external_task_id.startswith(base):
        return None
    rest = external_task_id[len(base) :]
    if not rest:
        return 1
    match = _GENERATION_SUFFIX.match(rest)
    return int(match.group(1)) if match and int(match.group(1)) >= 2 else None


def new_external_task_id() -> str:
    """A fresh id for a create whose caller gave none, so that even a bare hook call is idempotent."""
    return f"kling-{uuid.uuid4().hex}"


def with_external_task_id(request: KlingTaskRequest, external_task_id: str) -> KlingTaskRequest:
    """``request`` with another external task id, validated like every other field (length included)."""
    fields = request.model_dump(exclude_none=True)
    fields["external_task_id"] = external_task_id
    try:
        return type(request).build(**fields)
    except KlingRequestValidationError as exc:
        raise KlingRequestValidationError(f"{exc} (the external task id {external_task_id[:80]!r})") from None


@dataclass(frozen=True)
class ExternalTaskIdParts:
    """What a default external task id says: whose pipeline, which instance, which request."""

    namespace: str | None
    instance_hash: str
    #: The request fingerprint (:func:`request_fingerprint`).
    fingerprint: str
    generation: int


def parse_external_task_id(external_task_id: str | None) -> ExternalTaskIdParts | None:
    """The parts of a default external task id (:func:`default_external_task_id`, with its
    generation suffix), or ``None`` for an id this provider did not make."""
    match = _DEFAULT_ID.match(external_task_id or "")
    if match is None:
        return None
    generation = int(match["generation"]) if match["generation"] else 1
    if generation < 2 and match["generation"]:
        return None  # ``-1`` is never written: the first generation has no suffix
    return ExternalTaskIdParts(
        namespace=match["namespace"],
        instance_hash=match["instance"],
        fingerprint=match["fingerprint"],
        generation=generation,
    )
