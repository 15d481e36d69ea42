"""Image recognition (``/v1/videos/image-recognize``), answered at once through ``KlingHook.answer``:
the image checked before any HTTP call, the segmentations read, against the simulator's own rules."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests.image_recognition import ImageRecognitionRequest, Recognition
from airflow_provider_kling.testing import make_png

PHOTO = "https://example.com/person.png"


def test_the_answer_tells_what_the_image_holds_with_each_segmentation(kling_connection):
    recognition = KlingHook().answer(ImageRecognitionRequest.build(image=PHOTO))

    assert isinstance(recognition, Recognition)
    face, cloth = recognition.of("face_seg"), recognition.of("cloth_seg")
    assert face is not None and face.is_contain and face.url
    assert cloth is not None and not cloth.is_contain
    assert KlingHook().session.get(face.url, timeout=5).content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "image: Field required"),
        ({"image": base64.b64encode(make_png("tiny", 0, 100, 100)).decode()}, "image: "),
        ({"image": PHOTO, "prompt": "a face"}, "prompt: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_refused_before_any_http_call(fields, message, kling_connection):
    with pytest.raises(
        KlingRequestValidationError, match="Invalid Kling image recognition request"
    ) as caught:
        KlingHook().answer(ImageRecognitionRequest.build(**fields))
    assert message in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="image: is required"):
        hook._run(hook.call("POST", "/v1/videos/image-recognize", body={}))
