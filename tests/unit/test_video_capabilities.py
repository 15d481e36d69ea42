"""models/video_capabilities.py: one row per model, read by every video kind; the docs' table from it."""

from __future__ import annotations

import pytest

from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from airflow_provider_kling.models.video_capabilities import (
    MODEL_PATH_MODELS,
    VIDEO_MODEL_CAPABILITIES,
    describe_durations,
    models_for,
    models_with,
    render_video_model_table,
)


def test_each_kind_lists_the_models_that_serve_it():
    assert models_for("text2video") == (
        "kling-v1",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    )
    assert models_for("omni-video") == ("kling-video-o1", "kling-v3-omni")
    assert models_for("multi-image2video") == ("kling-v1-6",)
    assert "kling-v2-1" in models_for("image2video") and "kling-v2-1" not in models_for("text2video")


def test_messages_name_only_live_models():
    assert models_with("text2video", "cfg_scale") == "kling-v1-6, kling-v3"


@pytest.mark.parametrize("row", MODEL_PATH_MODELS.values(), ids=lambda row: row.name)
def test_every_model_path_row_is_what_the_requests_enforce(row):
    """A model-path row's resolutions and durations are accepted, in its style's layout."""
    kind = TextToVideoRequest if "text2video" in row.kinds else OmniVideoRequest
    for resolution in row.resolutions:
        for seconds in row.durations:
            request = kind.build(model_name=row.name, prompt="p", resolution=resolution, duration=seconds)
            assert request.api_style is ApiStyle.MODEL_PATH
            assert request.to_json()["settings"] == {"resolution": resolution, "duration": seconds}


@pytest.mark.parametrize("row", VIDEO_MODEL_CAPABILITIES.values(), ids=lambda row: row.name)
def test_every_row_is_what_the_requests_enforce(row):
    """A row's modes and durations are accepted, and a v2.x model (no cfg_scale) refuses it."""
    kind = TextToVideoRequest if row.serves("text2video") else ImageToVideoRequest
    if not row.serves(kind.kind) or row.discontinued:
        pytest.skip("omni, multi-image and discontinued rows have their own tests")
    extra = {"prompt": "p"} if kind is TextToVideoRequest else {"first_frame": "https://example.com/a.png"}
    for mode in row.modes or (None,):
        for seconds in row.durations:
            kind.build(model_name=row.name, resolution=mode, duration=seconds, **extra)
    if not row.cfg_scale:
        with pytest.raises(ValueError, match="rejects cfg_scale"):
            kind.build(model_name=row.name, cfg_scale=0.5, **extra)


def test_durations_read_as_a_person_writes_them():
    assert describe_durations((5, 10)) == "5 or 10"
    assert describe_durations(tuple(range(3, 16))) == "3-15"


def test_table_has_a_line_per_model():
    table = render_video_model_table()
    assert table.count("\n") == len(VIDEO_MODEL_CAPABILITIES) + 2
    assert "| `kling-v3` | text2video, image2video | std, pro, 4k | 3-15 |" in table
