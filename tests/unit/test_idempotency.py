"""External task ids and request fingerprints (``airflow_provider_kling.idempotency``), and the
error-side decisions they rely on: may a create be resent, is a failed task a content-policy refusal."""

from __future__ import annotations

import re

import pytest

from airflow_provider_kling.errors import (
    KlingConnectError,
    KlingConnectionError,
    KlingContentPolicyError,
    KlingRateLimitError,
    KlingRequestValidationError,
    KlingResponseError,
    KlingServerError,
    KlingTaskFailedError,
    KlingTaskRefusedError,
    create_never_reached_kling,
    create_outcome_unknown,
    error_from_response,
    task_failed_error,
)
from airflow_provider_kling.idempotency import (
    check_namespace,
    default_external_task_id,
    generation_external_task_id,
    generation_of,
    new_external_task_id,
    request_fingerprint,
    with_external_task_id,
)
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest

BASE = {"model_name": "kling-v1", "prompt": "a lighthouse in a storm", "n": 1}
INSTANCE = {"dag_id": "dag", "run_id": "manual__1", "task_id": "generate", "map_index": -1}


def request(**fields: object) -> ImageGenerationRequest:
    return ImageGenerationRequest.build(**{**BASE, **fields})


@pytest.mark.parametrize(
    "changed",
    [
        {"prompt": "a lighthouse at dawn"},
        {"n": 3},
        {"model_name": "kling-v2-1"},
        {"aspect_ratio": "16:9"},
        {"negative_prompt": "fog"},
    ],
)
def test_fingerprint_changes_with_every_field_that_changes_the_output(changed):
    assert request_fingerprint(request(**changed)) != request_fingerprint(request())


def test_fingerprint_changes_with_resolution():
    # kling-v1 makes 1k only: compare two resolutions of a model that has both.
    one_k = request(model_name="kling-v2-1", resolution="1k")
    assert request_fingerprint(request(model_name="kling-v2-1", resolution="2k")) != request_fingerprint(
        one_k
    )


def test_fingerprint_ignores_external_id_callback_and_blank_fields():
    plain = request_fingerprint(request())
    assert request_fingerprint(request(external_task_id="x-1")) == plain
    assert request_fingerprint(request(callback_url="https://example.com/hook")) == plain
    assert request_fingerprint(request(negative_prompt="")) == plain
    assert re.fullmatch(r"[0-9a-f]{12}", plain)


def test_default_id_is_stable_per_instance_and_request_and_distinct_otherwise():
    fingerprint = request_fingerprint(request())
    first = default_external_task_id(**INSTANCE, fingerprint=fingerprint)
    assert first == default_external_task_id(**INSTANCE, fingerprint=fingerprint)
    assert first != default_external_task_id(**{**INSTANCE, "map_index": 0}, fingerprint=fingerprint)
    assert first != default_external_task_id(**{**INSTANCE, "run_id": "manual__2"}, fingerprint=fingerprint)
    assert first != default_external_task_id(**INSTANCE, fingerprint=request_fingerprint(request(n=2)))
    assert re.fullmatch(r"airflow-[0-9a-f]{16}-[0-9a-f]{12}", first)


def test_namespace_prefixes_the_default_id_so_deployments_never_share_a_task():
    fingerprint = request_fingerprint(request())
    staging = default_external_task_id(**INSTANCE, fingerprint=fingerprint, namespace="staging")
    production = default_external_task_id(**INSTANCE, fingerprint=fingerprint, namespace="prod")
    assert staging.startswith("staging-airflow-") and production.startswith("prod-airflow-")
    assert staging.removeprefix("staging-") == production.removeprefix("prod-")


@pytest.mark.parametrize("namespace", ["has space", "a/b", "x" * 33, "-lead"])
def test_a_bad_namespace_is_refused_naming_the_rule(namespace):
    with pytest.raises(ValueError, match="1 to 32 characters"):
        check_namespace(namespace)


def test_blank_namespace_means_none():
    assert check_namespace("  ") is None
    assert check_namespace(None) is None


def test_generations_are_numbered_and_read_back():
    assert generation_external_task_id("base", 1) == "base"
    assert generation_external_task_id("base", 3) == "base-3"
    assert generation_of("base", "base") == 1
    assert generation_of("base", "base-3") == 3
    assert generation_of("base", "base-x") is None
    assert generation_of("base", "other") is None
    assert generation_of("base", None) is None


def test_the_final_external_id_is_validated_like_any_field():
    long_id = "a" * 256
    assert with_external_task_id(request(), long_id).external_task_id == long_id

    with pytest.raises(KlingRequestValidationError, match="external_task_id"):
        with_external_task_id(request(), generation_external_task_id(long_id, 2))  # 258 characters


def test_a_fresh_external_id_is_new_each_time():
    assert new_external_task_id() != new_external_task_id()
    assert re.fullmatch(r"kling-[0-9a-f]{32}", new_external_task_id())


# -- when a create may be resent -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "never_reached", "unknown"),
    [
        (KlingConnectError("refused"), True, False),
        (KlingConnectionError("read timeout"), False, True),
        (error_from_response(429, {"code": 1303, "message": "busy"}), True, False),
        (error_from_response(503, {"code": 5001, "message": "maintenance"}), True, False),
        (error_from_response(500, {"code": 5000, "message": "internal"}), False, True),
        (error_from_response(504, {"code": 5002, "message": "timeout"}), False, True),
        (error_from_response(502, None), False, True),
        (KlingResponseError("HTML"), False, True),
        (error_from_response(400, {"code": 1201, "message": "bad"}), False, False),
        (error_from_response(401, {"code": 1002, "message": "key"}), False, False),
    ],
)
def test_a_create_is_resent_only_when_it_provably_never_reached_kling(error, never_reached, unknown):
    assert create_never_reached_kling(error) is never_reached
    assert create_outcome_unknown(error) is unknown


def test_connect_error_is_a_connection_error_so_existing_handlers_still_catch_it():
    assert issubclass(KlingConnectError, KlingConnectionError)
    assert KlingConnectError("x").retryable
    assert isinstance(error_from_response(429, {"code": 1302}), KlingRateLimitError)
    assert isinstance(error_from_response(503, {"code": 5001}), KlingServerError)


# -- content policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "Failure to pass the risk control system",
        "The prompt was refused by content safety",
        "Sensitive content detected",
        "\u98ce\u63a7\u5ba1\u6838\u672a\u901a\u8fc7",
    ],
)
def test_content_policy_failures_are_refusals_never_retried(reason):
    error = task_failed_error("42", reason)
    assert isinstance(error, KlingTaskRefusedError)
    assert isinstance(error, KlingContentPolicyError) and isinstance(error, KlingTaskFailedError)
    assert error.airflow_retryable is False


@pytest.mark.parametrize("reason", ["Image generation failed: internal error", None])
def test_other_failures_stay_plain_task_failures_left_to_retries(reason):
    error = task_failed_error("42", reason)
    assert type(error) is KlingTaskFailedError
    assert error.airflow_retryable is True


def test_a_trigger_failure_naming_risk_control_is_a_refusal():
    refused = task_failed_error("42", None, message="Kling task 42 failed: risk control")
    assert isinstance(refused, KlingTaskRefusedError)
    assert refused.task_id == "42"
    plain = task_failed_error("42", None, message="Kling task 42 failed: timeout")
    assert type(plain) is KlingTaskFailedError
    assert plain.message == "Kling task 42 failed: timeout"


def test_error_text_labels_an_external_id_as_such():
    error = KlingConnectionError("lost", external_task_id="airflow-1")
    assert "external_task_id=airflow-1" in str(error)
    assert "task_id=airflow-1" not in str(error).replace("external_task_id=", "")
