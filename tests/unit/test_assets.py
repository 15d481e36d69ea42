"""Asset events and OpenLineage facets for stored images (airflow_provider_kling.assets)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_kling.assets import (
    EXTRA_KEYS,
    asset_extra,
    lineage_dataset_name,
    openlineage_facets,
    plain_uri,
    record_asset_events,
    static_output_uri,
)

RESULTS = [
    {
        "task_id": "867283741759111202",
        "model_name": "kling-v1",
        "final_unit_deduction": "2",
        "images": [
            {"index": 0, "url": "http://127.0.0.1/a.png", "path": "s3://bucket/kling/d/r/t_0_0.png"},
            {"index": 1, "url": "http://127.0.0.1/b.png", "path": "s3://bucket/kling/d/r/t_0_1.png"},
        ],
    },
    {
        "task_id": "867283741759111203",
        "model_name": "kling-v2-1",
        "final_unit_deduction": "1.5",
        "images": [{"index": 0, "url": "http://127.0.0.1/c.png", "path": "s3://bucket/kling/d/r/t_1_0.png"}],
    },
]


@pytest.mark.parametrize(
    ("location", "uri"),
    [
        ("s3://bucket/kling", "s3://bucket/kling"),
        ("s3://aws_default@bucket/kling", "s3://bucket/kling"),
        ("/data/kling", "file:///data/kling"),
        ("file:///data/kling", "file:///data/kling"),
        (ObjectStoragePath("file:///data/kling"), "file:///data/kling"),
    ],
)
def test_plain_uri_drops_the_connection_id(location, uri):
    assert plain_uri(location) == uri


def test_static_output_uri_is_none_for_templated_paths():
    assert static_output_uri("s3://bucket/{{ ds }}") is None
    assert static_output_uri(None) is None
    assert static_output_uri("s3://bucket/kling") == "s3://bucket/kling"


def test_static_output_uri_is_none_for_a_relative_path():
    """The DAG processor's working directory is not the worker's: no asset is guessed from it."""
    assert static_output_uri("images/kling") is None
    assert static_output_uri("/data/kling/") == "file:///data/kling"


def test_asset_extra_names_what_was_made_and_sums_units():
    extra = asset_extra(RESULTS, dag_id="d", run_id="r", task_id="t", output_uri="s3://bucket/kling")
    assert set(extra) == set(EXTRA_KEYS)
    assert extra["kling_task_ids"] == ["867283741759111202", "867283741759111203"]
    assert extra["model_names"] == ["kling-v1", "kling-v2-1"]
    assert extra["image_count"] == 3
    assert extra["units"] == 3.5
    assert extra["paths"][0] == "s3://bucket/kling/d/r/t_0_0.png"
    json.dumps(extra)  # an event's extra must be JSON


@pytest.mark.parametrize("units", [None, "", "n/a"])
def test_asset_extra_leaves_units_unknown_when_any_task_lacks_them(units):
    results = [RESULTS[0], {**RESULTS[1], "final_unit_deduction": units}]
    assert asset_extra(results, dag_id="d", run_id="r", task_id="t", output_uri="x")["units"] is None


def test_record_asset_events_fills_asset_outlets_and_resolves_aliases():
    events = OutletEventAccessors()
    asset, alias = Asset("s3://bucket/kling"), AssetAlias("kling_images")
    extra = asset_extra(RESULTS, dag_id="d", run_id="r", task_id="t", output_uri="s3://bucket/kling/d")
    recorded = record_asset_events({"outlet_events": events}, [asset, alias], "s3://bucket/kling/d", extra)
    assert recorded == ["s3://bucket/kling", "s3://bucket/kling/d (alias kling_images)"]
    assert events[asset].extra["kling_task_ids"] == extra["kling_task_ids"]
    (alias_event,) = events[alias].asset_alias_events
    assert alias_event.dest_asset_key.uri == "s3://bucket/kling/d"
    assert alias_event.extra["image_count"] == 3


def test_record_asset_events_without_outlet_events_records_nothing():
    assert record_asset_events({}, [Asset("s3://bucket/kling")], "s3://bucket/kling", {}) == []


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/kling/2025-01-01", ("s3://bucket", "kling/2025-01-01")),
        ("gs://bucket/kling", ("gs://bucket", "kling")),
        ("file:///data/kling", ("file", "/data/kling")),
    ],
)
def test_lineage_dataset_names_follow_openlineage_naming(uri, expected):
    assert lineage_dataset_name(uri) == expected


def test_openlineage_facets_serialise():
    pytest.importorskip("airflow.providers.openlineage")
    from openlineage.client.serde import Serde

    lineage = openlineage_facets(RESULTS, "s3://bucket/kling/d")
    (output,) = lineage.outputs
    assert (output.namespace, output.name) == ("s3://bucket", "kling/d")
    facet = json.loads(Serde.to_json(lineage.run_facets["kling"]))
    assert facet["kling_task_ids"] == ["867283741759111202", "867283741759111203"]
    assert facet["image_count"] == 3
    assert facet["units"] == 3.5
