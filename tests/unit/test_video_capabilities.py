"""models/video_capabilities.py: one row per model (either API style), read by every video kind; the
docs' table from it."""

from __future__ import annotations

import pytest

from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import ImageToVideoRequest, TextToVideoRequest
from airflow_provider_kling.models.video_capabilities import (
    VIDEO_MODELS,
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
    assert models_for("omni-video", ApiStyle.MODEL_PATH) == ("kling-3.0-omni", "kling-o1")


@pytest.mark.parametrize("row", VIDEO_MODELS.values(), ids=lambda row: row.name)
def test_every_row_is_what_the_requests_enforce(row):
    """A row's resolutions and durations are accepted in its style's layout, and a model without
    cfg_scale (kling-v2.x, every model-path model) refuses it."""
    kind = TextToVideoRequest if row.serves("text2video") else ImageToVideoRequest
    if not row.serves(kind.kind) or row.discontinued:
        pytest.skip("omni, multi-image and discontinued rows have their own tests")
    extra = {"prompt": "p"} if kind is TextToVideoRequest else {"first_frame": "https://example.com/a.png"}
    for resolution in row.resolutions or (None,):
        for seconds in row.durations:
            request = kind.build(model_name=row.name, resolution=resolution, duration=seconds, **extra)
            assert request.api_style is row.style
            if row.style is ApiStyle.MODEL_PATH:
                assert request.to_json()["settings"] == {"resolution": resolution, "duration": seconds}
    if not row.cfg_scale:
        with pytest.raises(ValueError, match="cfg_scale"):
            kind.build(model_name=row.name, cfg_scale=0.5, **extra)


def test_durations_read_as_a_person_writes_them():
    assert describe_durations((5, 10)) == "5 or 10"
    assert describe_durations(tuple(range(3, 16))) == "3-15"


def test_table_has_a_line_per_model():
    table = render_video_model_table()
    assert table.count("\n") == len(VIDEO_MODELS) + 2
    assert "| `kling-v3` | v1 | text2video, image2video | 720p, 1080p, 4k | 3-15 |" in table
    assert "| `kling-3.0` | model-path | text2video, image2video | 720p, 1080p, 4k | 3-15 |" in table
