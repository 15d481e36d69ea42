"""Images named in the user's storage, read into base64 for a request (``image_inputs``)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.image_inputs import is_storage_reference, read_image, read_image_fields
from airflow_provider_kling.models.reference_image import MAX_REFERENCE_IMAGE_BYTES
from airflow_provider_kling.models.requests import MultiImageRequest, OmniImageRequest
from airflow_provider_kling.testing import make_png

PNG = make_png("input", 0, 400, 400)
BASE64_JPEG_START = "/9j/4AAQSkZJRgABAQ"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("file:///data/a.png", True),
        ("s3://bucket/a.png", True),
        ("https://cdn.example/a.png", False),
        ("http://cdn.example/a.png", False),
        (BASE64_JPEG_START, False),  # looks like a path, is base64: never read as a file
        ("/abs/path.png", False),
        ({"index": 0, "url": "https://cdn/a.png", "path": "file:///a.png"}, True),
        ({"index": 0, "url": "https://cdn/a.png", "path": None}, False),
        (ObjectStoragePath("file:///a.png"), True),
    ],
)
def test_what_counts_as_an_image_in_storage(value, stored):
    assert is_storage_reference(value) is stored


def test_a_file_larger_than_klings_limit_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * MAX_REFERENCE_IMAGE_BYTES)
    reads: list[int] = []
    real_open = ObjectStoragePath.open

    def recording_open(self, *args, **kwargs):
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read

        def read(size=-1):
            reads.append(size)
            return real_read(size)

        handle.read = read
        return handle

    monkeypatch.setattr(ObjectStoragePath, "open", recording_open)

    with pytest.raises(KlingRequestValidationError, match=r"cloth_image: file://.*big\.png is larger than"):
        read_image(f"file://{big}", "cloth_image")

    assert reads == [MAX_REFERENCE_IMAGE_BYTES + 1]


def test_a_stored_file_that_is_no_image_names_field_and_uri(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    with pytest.raises(
        KlingRequestValidationError, match=r"image_list.0.image: file://.*notes\.txt: base64 data"
    ):
        read_image_fields({"image_list": [{"image": f"file://{text}"}]}, OmniImageRequest.image_fields, None)


def test_lists_of_plain_items_and_objects_are_read_and_the_rest_is_left_alone(tmp_path: Path):
    stored = tmp_path / "a.png"
    stored.write_bytes(PNG)
    fields = {
        "subject_image_list": [f"file://{stored}", {"subject_image": "https://cdn/b.png"}],
        "scene_image": {"index": 0, "url": "https://cdn/unstored.png"},  # an unstored XCom image: its URL
        "prompt": "file://not-an-image-field",
    }

    resolved = read_image_fields(fields, MultiImageRequest.image_fields, None)

    assert base64.b64decode(resolved["subject_image_list"][0]) == PNG
    assert resolved["subject_image_list"][1] == {"subject_image": "https://cdn/b.png"}
    assert resolved["scene_image"] == "https://cdn/unstored.png"
    assert resolved["prompt"] == "file://not-an-image-field"
    MultiImageRequest.build(**resolved)


def test_a_whole_task_result_stands_for_its_first_image_and_an_empty_one_is_refused(tmp_path):
    from airflow_provider_kling.errors import KlingRequestValidationError
    from airflow_provider_kling.image_inputs import first_image_of_result, read_image_fields

    result = {"task_id": "T1", "images": [{"index": 0, "url": "https://cdn.example/0.png"}, {"index": 1}]}

    assert first_image_of_result(result, "image") == result["images"][0]
    assert read_image_fields({"image": result}, ("image",), None) == {"image": "https://cdn.example/0.png"}
    assert first_image_of_result({"path": "file:///a.png"}, "image") == {"path": "file:///a.png"}
    with pytest.raises(KlingRequestValidationError, match="image: Kling task T2's result lists no image"):
        read_image_fields({"image": {"task_id": "T2", "images": []}}, ("image",), None)
