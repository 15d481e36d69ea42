"""Request rules and response parsing in ``airflow_provider_kling.models`` (no Airflow, no HTTP)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError, parse_answer
from airflow_provider_kling.models.capabilities import ASPECT_RATIOS, IMAGE_MODELS
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.models.task import KlingTask, TaskStatus
from airflow_provider_kling.testing.png import make_png

PNG_B64 = base64.b64encode(make_png("a fox", 0, 400, 300)).decode()  # a whole PNG, 400x300
IMAGE_URL = "https://example.com/cat.png"


def build(**overrides: Any) -> ImageGenerationRequest:
    fields: dict[str, Any] = {"model_name": "kling-v2", "prompt": "a red fox in snow", "n": 1}
    fields.update(overrides)
    return ImageGenerationRequest.build(**fields)


def rejection(**overrides: Any) -> str:
    with pytest.raises(KlingRequestValidationError) as caught:
        build(**overrides)
    return str(caught.value)


# --- request: accepted --------------------------------------------------------------------------


def test_minimal_request_serialises_to_required_fields_only() -> None:
    assert build().to_json() == {"model_name": "kling-v2", "prompt": "a red fox in snow", "n": 1}


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v1-5", "kling-v2", "kling-v2-1", "kling-v3"])
def test_every_text_to_image_model_is_accepted_with_a_prompt_alone(model_name: str) -> None:
    assert build(model_name=model_name).model_name == model_name


def test_restyle_only_model_is_accepted_with_an_image() -> None:
    assert build(model_name="kling-v2-new", image=IMAGE_URL).to_json()["image"] == IMAGE_URL


def test_documented_model_list_is_the_six_from_the_api_notes() -> None:
    assert set(IMAGE_MODELS) == {
        "kling-v1",
        "kling-v1-5",
        "kling-v2",
        "kling-v2-new",
        "kling-v2-1",
        "kling-v3",
    }


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"])
def test_every_documented_aspect_ratio_is_accepted(aspect_ratio: str) -> None:
    assert build(aspect_ratio=aspect_ratio).to_json()["aspect_ratio"] == aspect_ratio


def test_aspect_ratio_constant_matches_the_eight_documented_ratios() -> None:
    assert set(ASPECT_RATIOS) == {"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"}


@pytest.mark.parametrize("n", [1, 5, 9])
def test_image_count_from_one_to_nine_is_accepted(n: int) -> None:
    assert build(n=n).n == n


def test_prompt_of_exactly_2500_characters_is_accepted() -> None:
    assert len(build(prompt="x" * 2500).prompt) == 2500


def test_negative_prompt_of_exactly_2500_characters_is_accepted() -> None:
    assert build(negative_prompt="y" * 2500).to_json()["negative_prompt"] == "y" * 2500


@pytest.mark.parametrize("image", [IMAGE_URL, "http://example.com/cat.png", PNG_B64])
def test_image_as_url_or_bare_base64_is_sent_unchanged(image: str) -> None:
    assert build(image=image).to_json()["image"] == image


@pytest.mark.parametrize(
    "prefix", ["data:image/png;base64,", "data:image/jpeg;base64,", "DATA:image/webp;BASE64,"]
)
def test_data_uri_prefix_is_stripped_from_base64_image(prefix: str) -> None:
    assert build(image=prefix + PNG_B64).to_json()["image"] == PNG_B64


@pytest.mark.parametrize("model_name", ["kling-v1-5", "kling-v3"])
@pytest.mark.parametrize("image_reference", ["subject", "face"])
def test_image_reference_subject_and_face_are_accepted_by_models_that_take_them(
    model_name: str, image_reference: str
) -> None:
    request = build(model_name=model_name, image=IMAGE_URL, image_reference=image_reference)
    assert request.to_json()["image_reference"] == image_reference


@pytest.mark.parametrize("value", [0, 0.5, 1])
def test_fidelities_within_zero_to_one_are_accepted(value: float) -> None:
    body = build(
        model_name="kling-v1-5",
        image=IMAGE_URL,
        image_reference="subject",
        image_fidelity=value,
        human_fidelity=value,
    ).to_json()
    assert (body["image_fidelity"], body["human_fidelity"]) == (value, value)


@pytest.mark.parametrize("resolution", ["1k", "2k"])
def test_resolution_1k_and_2k_are_accepted(resolution: str) -> None:
    assert build(resolution=resolution).to_json()["resolution"] == resolution


@pytest.mark.parametrize("callback_url", ["https://hooks.example.com/kling", "http://127.0.0.1:8080/cb"])
def test_http_and_https_callback_urls_are_accepted(callback_url: str) -> None:
    assert build(callback_url=callback_url).to_json()["callback_url"] == callback_url


@pytest.mark.parametrize("external_task_id", ["run-2024-01-01_T1", "a" * 256, "dag.task:42"])
def test_printable_external_task_id_without_slash_is_accepted(external_task_id: str) -> None:
    assert build(external_task_id=external_task_id).to_json()["external_task_id"] == external_task_id


def test_kling_v1_5_with_image_is_accepted_when_image_reference_is_given() -> None:
    request = build(model_name="kling-v1-5", image=IMAGE_URL, image_reference="face")
    assert request.image_reference == "face"


def test_other_models_accept_an_image_without_image_reference() -> None:
    assert "image_reference" not in build(model_name="kling-v2", image=IMAGE_URL).to_json()


def test_negative_prompt_is_accepted_without_image() -> None:
    assert build(negative_prompt="blurry").to_json()["negative_prompt"] == "blurry"


# --- request: rejected, the message naming the field and the rule -------------------------------


def test_validation_error_is_an_invalid_request_and_a_value_error() -> None:
    with pytest.raises(KlingRequestValidationError) as caught:
        build(model_name="dall-e")
    assert isinstance(caught.value, KlingInvalidRequestError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.airflow_retryable is False
    assert caught.value.retryable is False


def test_unknown_model_is_rejected_naming_field_allowed_models_and_value() -> None:
    message = rejection(model_name="kling-v9")
    assert "model_name" in message
    assert "must be one of" in message and "kling-v1-5" in message and "kling-v3" in message
    assert "'kling-v9'" in message


def test_required_field_missing_is_rejected_naming_it() -> None:
    with pytest.raises(KlingRequestValidationError, match=r"prompt: Field required"):
        ImageGenerationRequest.build(model_name="kling-v2", n=1)


def test_model_name_and_n_default_on_the_request_and_are_always_sent() -> None:
    # The reseller requires both: a default is sent like a value.
    assert ImageGenerationRequest.build(prompt="a fox").to_json() == {
        "model_name": "kling-v3",
        "prompt": "a fox",
        "n": 1,
    }


def test_empty_prompt_is_rejected_as_too_short() -> None:
    message = rejection(prompt="")
    assert "prompt" in message and "at least 1 character" in message


def test_blank_prompt_is_rejected_as_blank() -> None:
    assert "prompt: must not be blank" in rejection(prompt="   \n\t")


def test_prompt_of_2501_characters_is_rejected_naming_the_limit() -> None:
    message = rejection(prompt="x" * 2501)
    assert "prompt" in message and "at most 2500 characters" in message


def test_overlong_value_is_shortened_in_the_message_with_its_length() -> None:
    message = rejection(prompt="x" * 2501)
    assert "(2501 characters)" in message
    assert "x" * 100 not in message


def test_negative_prompt_of_2501_characters_is_rejected_naming_the_limit() -> None:
    message = rejection(negative_prompt="y" * 2501)
    assert "negative_prompt" in message and "at most 2500 characters" in message


@pytest.mark.parametrize(("n", "rule"), [(0, "greater than or equal to 1"), (10, "less than or equal to 9")])
def test_image_count_outside_one_to_nine_is_rejected(n: int, rule: str) -> None:
    message = rejection(n=n)
    assert "n:" in message and rule in message and f"(got {n})" in message


def test_fractional_image_count_is_rejected() -> None:
    assert "n:" in rejection(n=2.5)


@pytest.mark.parametrize(
    "image",
    ["data:image/png,iVBORw0KGgo=", "data:;base64,iVBORw0KGgo=", "data:text/plain;charset=utf-8;base64,aGk="],
)
def test_malformed_data_uri_is_refused_saying_the_expected_form(image: str) -> None:
    message = rejection(image=image)
    assert "image" in message and "data:<mime>;base64,<data>" in message


@pytest.mark.parametrize(
    "image",
    [
        "not base64!",
        "abc",
        "ftp://example.com/cat.png",
        "images/cat.png",
        "data:image/png;base64,@@@@",
        "ünï==",
    ],
)
def test_image_that_is_neither_url_nor_base64_is_refused(image: str) -> None:
    message = rejection(image=image)
    assert "image" in message and "http(s) URL or base64" in message


def test_unknown_image_reference_is_rejected_naming_the_choices() -> None:
    message = rejection(model_name="kling-v1-5", image=IMAGE_URL, image_reference="style")
    assert "image_reference" in message and "'subject' or 'face'" in message


@pytest.mark.parametrize("field", ["image_fidelity", "human_fidelity"])
@pytest.mark.parametrize(
    ("value", "rule"), [(-0.1, "greater than or equal to 0"), (1.01, "less than or equal to 1")]
)
def test_fidelity_outside_zero_to_one_is_rejected(field: str, value: float, rule: str) -> None:
    message = rejection(model_name="kling-v1-5", image=IMAGE_URL, image_reference="subject", **{field: value})
    assert f"{field}:" in message and rule in message


@pytest.mark.parametrize("resolution", ["4k", "1K", "1080p"])
def test_unknown_resolution_is_rejected_naming_the_choices(resolution: str) -> None:
    message = rejection(resolution=resolution)
    assert "resolution" in message and "'1k' or '2k'" in message


@pytest.mark.parametrize("aspect_ratio", ["5:4", "16/9", "1:2"])
def test_unknown_aspect_ratio_is_rejected_naming_the_field(aspect_ratio: str) -> None:
    message = rejection(aspect_ratio=aspect_ratio)
    assert "aspect_ratio" in message and "'21:9'" in message


@pytest.mark.parametrize("callback_url", ["ftp://example.com/cb", "example.com/cb", "javascript:alert(1)"])
def test_callback_url_without_http_scheme_is_rejected(callback_url: str) -> None:
    message = rejection(callback_url=callback_url)
    assert "callback_url" in message and "http:// or https:// URL" in message


@pytest.mark.parametrize("external_task_id", ["has space", "tab\there", "a/b", "bell\x07", "new\nline"])
def test_external_task_id_with_whitespace_control_or_slash_is_rejected(external_task_id: str) -> None:
    message = rejection(external_task_id=external_task_id)
    assert "external_task_id" in message and "whitespace, control characters or '/'" in message


def test_external_task_id_over_256_characters_is_rejected() -> None:
    message = rejection(external_task_id="a" * 257)
    assert "external_task_id" in message and "at most 256 characters" in message


def test_kling_v1_5_with_image_requires_image_reference() -> None:
    message = rejection(model_name="kling-v1-5", image=IMAGE_URL)
    assert "image_reference is required" in message and "kling-v1-5" in message


def test_kling_v1_5_with_image_and_blank_image_reference_is_rejected() -> None:
    assert "image_reference is required" in rejection(
        model_name="kling-v1-5", image=IMAGE_URL, image_reference=" "
    )


def test_human_fidelity_without_image_is_accepted_and_sent_as_kling_clients_do_by_default() -> None:
    # Kling's own clients send human_fidelity=0.45 on every request; Kling ignores it without
    # image_reference="subject" and does not refuse it.
    body = build(model_name="kling-v1", human_fidelity=0.45).to_json()
    assert body["human_fidelity"] == 0.45


def test_human_fidelity_with_a_face_reference_is_accepted() -> None:
    body = build(
        model_name="kling-v1-5", image=IMAGE_URL, image_reference="face", human_fidelity=0.5
    ).to_json()
    assert (body["image_reference"], body["human_fidelity"]) == ("face", 0.5)


def test_negative_prompt_together_with_image_is_rejected() -> None:
    message = rejection(image=IMAGE_URL, negative_prompt="blurry")
    assert "negative_prompt is not allowed together with image" in message


def test_unknown_field_is_rejected_naming_it() -> None:
    message = rejection(seed=42)
    assert "seed" in message and "Extra inputs are not permitted" in message


def test_every_broken_field_is_named_in_one_message() -> None:
    message = rejection(model_name="nope", n=0, resolution="8k")
    assert "model_name" in message and "n:" in message and "resolution" in message


def test_request_model_is_immutable_after_validation() -> None:
    request = build()
    with pytest.raises(ValueError, match="frozen"):
        request.n = 10


# --- request: blank optional text is unset, and never sent as "" ---------------------------------


def test_reseller_style_blank_optional_fields_are_left_out_of_the_json() -> None:
    request = build(
        negative_prompt="",
        image="",
        image_reference="",
        resolution=" ",
        aspect_ratio="",
        callback_url="",
        external_task_id="\t",
    )
    body = request.to_json()
    assert body == {"model_name": "kling-v2", "prompt": "a red fox in snow", "n": 1}
    assert "" not in body.values()


def test_blank_image_does_not_trigger_the_kling_v1_5_image_reference_rule() -> None:
    assert build(model_name="kling-v1-5", image="").image is None


def test_blank_image_does_not_conflict_with_negative_prompt() -> None:
    assert build(image="  ", negative_prompt="blurry").to_json()["negative_prompt"] == "blurry"


def test_full_request_serialises_every_set_field_as_json_types() -> None:
    body = build(
        model_name="kling-v3",
        image="data:image/png;base64," + PNG_B64,
        image_reference="subject",
        image_fidelity=0.25,
        human_fidelity=0.75,
        element_list=[{"element_id": 101}, {"element_id": 202}],
        resolution="2k",
        n=4,
        aspect_ratio="3:2",
        watermark_info={"enabled": True},
        callback_url="https://hooks.example.com/kling",
        external_task_id="run-1",
    ).to_json()
    assert body == {
        "model_name": "kling-v3",
        "prompt": "a red fox in snow",
        "n": 4,
        "image": PNG_B64,
        "image_reference": "subject",
        "image_fidelity": 0.25,
        "human_fidelity": 0.75,
        "element_list": [{"element_id": 101}, {"element_id": 202}],
        "resolution": "2k",
        "aspect_ratio": "3:2",
        "watermark_info": {"enabled": True},
        "callback_url": "https://hooks.example.com/kling",
        "external_task_id": "run-1",
    }
    assert json.loads(json.dumps(body)) == body


# --- responses -----------------------------------------------------------------------------------

CREATE_RESPONSE = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "req-create-1",
    "data": {
        "task_id": "867283741759111202",
        "task_status": "submitted",
        "task_info": {"external_task_id": "run-1"},
        "created_at": 1722769557708,
        "updated_at": 1722769557708,
    },
}

QUERY_DATA = {
    "task_id": "867283741759111202",
    "task_status": "succeed",
    "task_status_msg": "",
    "task_info": {"external_task_id": "run-1"},
    "created_at": 1722769557708,
    "updated_at": 1722769587708,
    "final_unit_deduction": "1",
    "task_result": {
        "images": [
            {"index": 0, "url": "https://cdn.example.com/0.png"},
            {"index": 1, "url": "https://cdn.example.com/1.png"},
        ]
    },
}


def test_create_envelope_and_submitted_task_parse_from_the_documented_example() -> None:
    task = KlingTask.model_validate(parse_answer(200, {}, json.dumps(CREATE_RESPONSE).encode()))
    assert task.task_id == "867283741759111202"
    assert task.task_status is TaskStatus.SUBMITTED
    assert task.external_task_id == "run-1"
    assert task.created_at == datetime(2024, 8, 4, 11, 5, 57, 708000, tzinfo=UTC)
    assert task.images == []


def test_envelope_without_code_means_success() -> None:
    assert parse_answer(200, {}, b'{"data": []}') == []
    assert parse_answer(200, {}, b'{"code": "0", "data": [2]}') == [2]


def test_succeeded_query_task_exposes_images_times_and_deduction() -> None:
    task = KlingTask.model_validate(QUERY_DATA)
    assert task.task_status is TaskStatus.SUCCEED
    assert [(img.index, img.url) for img in task.images] == [
        (0, "https://cdn.example.com/0.png"),
        (1, "https://cdn.example.com/1.png"),
    ]
    assert task.updated_at == datetime(2024, 8, 4, 11, 6, 27, 708000, tzinfo=UTC)
    assert task.final_unit_deduction == "1"
    assert task.task_status_msg == ""


def test_failed_task_keeps_kling_reason() -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "failed", "task_status_msg": "content risk control"}
    )
    assert task.task_status is TaskStatus.FAILED and task.task_status_msg == "content risk control"


def test_images_without_index_are_numbered_by_position() -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "succeed", "task_result": {"images": [{"url": "u0"}, {"url": "u1"}]}}
    )
    assert [(img.index, img.url) for img in task.images] == [(0, "u0"), (1, "u1")]


def test_explicit_image_index_wins_over_position() -> None:
    task = KlingTask.model_validate(
        {
            "task_id": "t1",
            "task_status": "succeed",
            "task_result": {"images": [{"index": 3, "url": "u3"}, {"url": "u"}]},
        }
    )
    assert [img.index for img in task.images] == [3, 1]


@pytest.mark.parametrize("image_id", ["img-7", 7])
def test_reseller_image_id_is_kept_as_text(image_id: str | int) -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "succeed", "task_result": {"images": [{"id": image_id, "url": "u"}]}}
    )
    assert task.images[0].id == str(image_id)


def test_unknown_reseller_fields_are_kept_at_every_level() -> None:
    task = KlingTask.model_validate(
        {
            "task_id": "t1",
            "task_status": "succeed",
            "queue_position": 3,
            "task_info": {"external_task_id": "e", "priority": "high"},
            "task_result": {"images": [{"url": "u", "width": 1024}], "seed": 99},
        }
    )
    assert task.model_extra == {"queue_position": 3}
    assert task.task_info.model_extra == {"priority": "high"}
    assert task.task_result.model_extra == {"seed": 99}
    assert task.images[0].model_extra == {"width": 1024}


def test_null_task_info_and_task_result_read_as_empty() -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "processing", "task_info": None, "task_result": None}
    )
    assert task.external_task_id is None
    assert task.images == []


def test_missing_optional_task_fields_read_as_none() -> None:
    task = KlingTask.model_validate({"task_id": "t1", "task_status": "processing"})
    assert (task.created_at, task.updated_at, task.task_status_msg, task.final_unit_deduction) == (None,) * 4


def test_integer_task_id_is_read_as_text() -> None:
    assert KlingTask.model_validate({"task_id": 867283741759111202, "task_status": "submitted"}).task_id == (
        "867283741759111202"
    )


def test_numeric_final_unit_deduction_is_read_as_text() -> None:
    task = KlingTask.model_validate({"task_id": "t1", "task_status": "succeed", "final_unit_deduction": 2})
    assert task.final_unit_deduction == "2"


@pytest.mark.parametrize("millis", [1722769557708, "1722769557708", 1722769557708.0])
def test_millisecond_times_become_aware_utc_datetimes(millis: int | str | float) -> None:
    task = KlingTask.model_validate({"task_id": "t1", "task_status": "submitted", "created_at": millis})
    assert task.created_at == datetime(2024, 8, 4, 11, 5, 57, 708000, tzinfo=UTC)
    assert task.created_at is not None and task.created_at.utcoffset() is not None


@pytest.mark.parametrize("empty", [0, "", "0", None])
def test_zero_or_empty_times_read_as_unset(empty: Any) -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "submitted", "created_at": empty, "updated_at": empty}
    )
    assert task.created_at is None and task.updated_at is None


def test_iso_time_string_is_also_accepted() -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "submitted", "created_at": "2024-08-04T11:05:57Z"}
    )
    assert task.created_at == datetime(2024, 8, 4, 11, 5, 57, tzinfo=UTC)


WATERMARKED_DATA = {
    "task_id": "t-wm",
    "task_status": "succeed",
    "final_unit_deduction": "2",
    "final_balance_deduction": {"quota": "0.2", "list_price": "0.28"},
    "task_result": {
        "images": [
            {
                "index": 0,
                "url": "https://cdn.example.com/0.png",
                "watermark_url": "https://cdn.example.com/0-wm.png",
            },
            {
                "index": 1,
                "url": "https://cdn.example.com/1.png",
                "watermark_url": "https://cdn.example.com/1-wm.png",
            },
        ]
    },
}


def test_deductions_and_watermark_urls_are_read_from_a_newer_answer() -> None:
    task = KlingTask.model_validate(WATERMARKED_DATA)
    assert task.final_unit_deduction == "2"
    assert task.final_balance_deduction is not None
    assert (task.final_balance_deduction.quota, task.final_balance_deduction.list_price) == ("0.2", "0.28")
    assert [image.watermark_url for image in task.images] == [
        "https://cdn.example.com/0-wm.png",
        "https://cdn.example.com/1-wm.png",
    ]


def test_numeric_balance_deduction_is_read_as_text() -> None:
    task = KlingTask.model_validate(
        {
            "task_id": "t1",
            "task_status": "succeed",
            "final_balance_deduction": {"quota": 1, "list_price": 0.5},
        }
    )
    assert task.final_balance_deduction is not None
    assert (task.final_balance_deduction.quota, task.final_balance_deduction.list_price) == ("1", "0.5")


@pytest.mark.parametrize("odd", ["", "0.2", 3, [], None])
def test_balance_deduction_that_is_not_an_object_reads_as_none_and_keeps_the_task_readable(odd: Any) -> None:
    task = KlingTask.model_validate(
        {"task_id": "t1", "task_status": "succeed", "final_balance_deduction": odd}
    )
    assert task.final_balance_deduction is None


def test_xcom_carries_units_balance_deduction_and_watermark_urls() -> None:
    summary = KlingTask.model_validate(WATERMARKED_DATA).to_xcom()
    assert summary["final_unit_deduction"] == "2"
    assert summary["final_balance_deduction"] == {"quota": "0.2", "list_price": "0.28"}
    assert summary["images"] == [
        {
            "index": 0,
            "url": "https://cdn.example.com/0.png",
            "watermark_url": "https://cdn.example.com/0-wm.png",
        },
        {
            "index": 1,
            "url": "https://cdn.example.com/1.png",
            "watermark_url": "https://cdn.example.com/1-wm.png",
        },
    ]
    assert json.loads(json.dumps(summary)) == summary


def test_xcom_without_watermark_or_deductions_has_null_units_and_no_watermark_key() -> None:
    summary = KlingTask.model_validate(QUERY_DATA | {"final_unit_deduction": None}).to_xcom()
    assert summary["final_unit_deduction"] is None and summary["final_balance_deduction"] is None
    assert all(set(image) == {"index", "url"} for image in summary["images"])


def test_new_fields_survive_the_triggers_json_round_trip() -> None:
    task = KlingTask.model_validate(WATERMARKED_DATA)
    again = KlingTask.model_validate(json.loads(json.dumps(task.model_dump(mode="json"))))
    assert again.to_xcom() == task.to_xcom()


def test_unknown_task_status_is_rejected() -> None:
    with pytest.raises(ValueError, match="task_status"):
        KlingTask.model_validate({"task_id": "t1", "task_status": "queued"})


def test_list_response_data_parses_as_tasks() -> None:
    body = {"code": 0, "data": [CREATE_RESPONSE["data"], QUERY_DATA]}
    tasks = [KlingTask.model_validate(item) for item in parse_answer(200, {}, json.dumps(body).encode())]
    assert [task.task_status for task in tasks] == [TaskStatus.SUBMITTED, TaskStatus.SUCCEED]


@pytest.mark.parametrize(
    ("status", "final"),
    [("submitted", False), ("processing", False), ("succeed", True), ("failed", True)],
)
def test_only_succeed_and_failed_are_final(status: str, final: bool) -> None:
    assert TaskStatus(status).is_final is final


def test_task_status_compares_equal_to_kling_spelling() -> None:
    assert TaskStatus.SUCCEED == "succeed"


# -- parse_answer: one HTTP answer to data or error, shared by both transports ---------------------


def test_parse_answer_returns_data_of_a_successful_envelope():
    body = json.dumps({"code": 0, "message": "SUCCEED", "data": {"task_id": "1"}}).encode()
    assert parse_answer(200, {}, body) == {"task_id": "1"}
    assert parse_answer(200, {}, json.dumps({"code": None, "data": [1]}).encode()) == [1]


def test_parse_answer_maps_a_non_zero_code_on_http_200():
    from airflow_provider_kling.errors import KlingRateLimitError

    body = json.dumps({"code": 1303, "message": "parallel task over resource pack limit"}).encode()
    with pytest.raises(KlingRateLimitError, match="1303"):
        parse_answer(200, {}, body, task_id="7")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "without a JSON object"),
        (b'{"code": "abc"}', "unreadable envelope"),
    ],
)
def test_parse_answer_refuses_unreadable_success_bodies(content, message):
    from airflow_provider_kling.errors import KlingResponseError

    with pytest.raises(KlingResponseError, match=message) as raised:
        parse_answer(200, {}, content, task_id="7")
    assert raised.value.retryable and raised.value.task_id == "7"


def test_parse_answer_maps_an_error_status_without_a_json_body():
    from airflow_provider_kling.errors import KlingServerError

    with pytest.raises(KlingServerError) as raised:
        parse_answer(502, {"Retry-After": "3"}, b"<html>bad gateway</html>")
    assert raised.value.http_status == 502 and raised.value.retry_after == 3


# -- end to end: the new request and response fields through the hook and the simulator ------------


def test_watermark_and_default_human_fidelity_round_trip_through_the_simulator(kling_connection: Any) -> None:
    from airflow_provider_kling.hooks.kling import KlingHook

    kling_connection.set_progress("immediate")
    hook = KlingHook()
    created = hook.create_task(
        model_name="kling-v1",
        prompt="a lighthouse",
        n=2,
        human_fidelity=0.45,
        watermark_info={"enabled": True},
    )
    task = hook.get_task(created.task_id)
    summary = task.to_xcom()

    assert task.task_status is TaskStatus.SUCCEED
    assert [image["index"] for image in summary["images"]] == [0, 1]
    assert all(
        image["watermark_url"] and image["watermark_url"] != image["url"] for image in summary["images"]
    )
    assert summary["final_unit_deduction"] not in (None, "", "0")
    assert {"quota", "list_price"} <= set(summary["final_balance_deduction"] or {})
    assert json.loads(json.dumps(summary)) == summary
