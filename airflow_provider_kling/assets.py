"""Generated images as Airflow asset events and OpenLineage outputs.

Operators call :func:`record_asset_events` once their images are stored: every ``Asset`` outlet gets
the run's ``extra`` (what was made), every ``AssetAlias`` outlet gets an event for the concrete
output folder. :func:`openlineage_facets` describes the same output for OpenLineage; it imports
OpenLineage only when called, so DAG files stay cheap to parse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_kling import storage
from airflow_provider_kling.spend import total_units

#: ``extra`` keys every event carries (documented in docs/assets-and-lineage.rst).
EXTRA_KEYS = (
    "dag_id",
    "run_id",
    "task_id",
    "output_uri",
    "kling_task_ids",
    "model_names",
    "image_count",
    "video_count",
    "audio_count",
    "units",
    "paths",
)
#: At most this many image paths are listed in an event's ``extra`` (a batch can make hundreds).
MAX_LISTED_PATHS = 200
_TEMPLATED = re.compile(r"{{|{%")


def plain_uri(location: Any) -> str:
    """
    The URI of a storage location without a connection id or a trailing slash, as Airflow names the
    asset: ``s3://bucket/key``, ``file:///abs/dir``.
    """
    if hasattr(location, "protocol") and hasattr(location, "path"):  # ObjectStoragePath
        location = storage.plain_uri(location)
    parts = urlsplit(storage.as_uri(location))
    netloc = parts.netloc.rpartition("@")[2]  # drop a ``conn_id@`` (Airflow's form) or credentials
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") or "/", "", ""))


def static_output_uri(output_path: Any) -> str | None:
    """
    The output folder's URI when it is known when the DAG is parsed: not templated, not an XComArg,
    not a relative local path (the DAG processor and the worker may not share a working directory).
    """
    if output_path is None or (isinstance(output_path, str) and _TEMPLATED.search(output_path)):
        return None
    if isinstance(output_path, str | os.PathLike):
        text = os.fspath(output_path)
        if "://" not in text and not os.path.isabs(os.path.expanduser(text)):
            return None
    try:
        return plain_uri(output_path)
    except TypeError:  # an XComArg or another value resolved at run time
        return None


def summary(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the Kling tasks behind ``results`` (operator XCom results) made: ids, models, counts, units.

    ``image_count`` counts the images Kling made (``video_count`` the videos, ``audio_count`` the
    audio files); ``units`` sums Kling's ``final_unit_deduction``, or is None when a task does not
    report it.
    """
    return {
        "kling_task_ids": [str(result["task_id"]) for result in results],
        "model_names": sorted({str(result["model_name"]) for result in results if result.get("model_name")}),
        "image_count": sum(len(result.get("images", ())) for result in results),
        "video_count": sum(len(result.get("videos", ())) for result in results),
        "audio_count": sum(len(result.get("audios", ())) for result in results),
        "units": total_units(results),
    }


def asset_extra(
    results: Sequence[Mapping[str, Any]], *, dag_id: str, run_id: str, task_id: str, output_uri: str | None
) -> dict[str, Any]:
    """What a run made, for an asset event's ``extra`` (no secrets): :func:`summary`, and the stored
    files' ``paths`` (at most :data:`MAX_LISTED_PATHS`)."""
    paths = [
        made["path"]
        for result in results
        for made in (*result.get("images", ()), *result.get("videos", ()), *result.get("audios", ()))
        if made.get("path")
    ]
    extra = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "output_uri": output_uri}
    return {**extra, **summary(results), "paths": paths[:MAX_LISTED_PATHS]}


def record_asset_events(
    context: Mapping[str, Any], outlets: Iterable[Any], output_uri: str | None, extra: dict[str, Any]
) -> list[str]:
    """
    Attach ``extra`` to each ``Asset`` outlet's event; add ``Asset(output_uri)`` to each alias outlet
    (none without an ``output_uri``: nothing was stored). Returns what was recorded, for the log.
    """
    from airflow.sdk import Asset, AssetAlias

    events = context.get("outlet_events")
    recorded: list[str] = []
    if events is None:
        return recorded
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            if not output_uri:
                continue
            events[outlet].add(Asset(output_uri), extra=dict(extra))
            recorded.append(f"{output_uri} (alias {outlet.name})")
        elif isinstance(outlet, Asset):
            events[outlet].extra.update(extra)
            recorded.append(outlet.uri)
    return recorded


def lineage_dataset_name(uri: str) -> tuple[str, str]:
    """OpenLineage's (namespace, name) for a storage URI: ``("s3://bucket", "key")``, ``("file", "/dir")``."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file", "local"):
        return "file", parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"


def openlineage_facets(results: Sequence[Mapping[str, Any]], output_uri: str | None) -> Any:
    """An ``OperatorLineage``: the output folder as the output dataset, a ``kling`` run facet."""
    import attrs
    from airflow.providers.common.compat.openlineage.facet import Dataset, RunFacet
    from airflow.providers.openlineage.extractors import OperatorLineage

    @attrs.define
    class KlingRunFacet(RunFacet):
        """The Kling tasks behind this run: ids, models, images and units deducted."""

        kling_task_ids: list[str] = attrs.field(factory=list)
        model_names: list[str] = attrs.field(factory=list)
        image_count: int = 0
        units: float | None = None

    made = summary(results)
    facet = KlingRunFacet(
        **{name: made[name] for name in ("kling_task_ids", "model_names", "image_count", "units")}
    )
    outputs = []
    if output_uri:
        namespace, name = lineage_dataset_name(output_uri)
        outputs.append(Dataset(namespace=namespace, name=name))
    return OperatorLineage(outputs=outputs, run_facets={"kling": facet})
