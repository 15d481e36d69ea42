"""The simulator's own request rules (``testing/rules.py``), written from Kling's docs as data."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.testing import KlingSimulator, make_png, rules

PNG = base64.b64encode(make_png("reference", 0, 400, 300)).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(32)).decode()
BASE = {"model_name": "kling-v1", "prompt": "a cat on a windowsill", "n": 1}
DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.rst"


def _post(simulator: KlingSimulator, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {simulator.api_key}"}
    return httpx.post(f"{simulator.base_url}/v1/images/generations", json=body, headers=headers, timeout=10)


def test_a_client_sending_klings_documented_defaults_succeeds(kling_simulator: KlingSimulator) -> None:
    # What Kling's own examples send: blank unused fields, human_fidelity 0.45 without an image.
    body = {
        "model_name": "kling-v1",
        "prompt": "a beach at noon",
        "negative_prompt": "",
        "image": "",
        "image_reference": "",
        "human_fidelity": 0.45,
        "resolution": "1k",
        "n": 2,
        "aspect_ratio": "16:9",
        "callback_url": "",
        "watermark_info": {"enabled": False},
    }

    created = _post(kling_simulator, body)

    assert created.status_code == 200, created.text
    (task,) = kling_simulator.tasks()
    assert task["task_status"] == "succeed"
    assert len(task["task_result"]["images"]) == 2


def test_model_name_and_n_are_optional_with_klings_defaults(kling_simulator: KlingSimulator) -> None:
    assert _post(kling_simulator, {"prompt": "a kite"}).status_code == 200

    (task,) = kling_simulator.tasks()
    assert (task["request"]["model_name"], task["request"]["n"]) == ("kling-v3", 1)  # the 2026 page's default
    assert len(task["task_result"]["images"]) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"human_fidelity": 0.45},
        {"image": PNG, "image_fidelity": 0.5},
        {"image": JPEG},
        {"image": "https://example.com/reference.png"},
        {"model_name": "kling-v1-5", "image": PNG, "image_reference": "face", "human_fidelity": 0.3},
        {"model_name": "kling-v2", "resolution": "2k", "aspect_ratio": "21:9"},
        {"model_name": "kling-v2-new", "image": PNG},
        {"model_name": "kling-v3", "element_list": [{"element_id": 7}], "image": PNG},
        {"watermark_info": {"enabled": True}},
        {"external_task_id": "x" * 256},
        {"prompt": "p" * 2500, "n": 9},
    ],
)
def test_valid_requests_are_accepted(fields: dict[str, Any]) -> None:
    accepted = rules.validate({**BASE, **fields})

    assert accepted.prompt == {**BASE, **fields}["prompt"]


@pytest.mark.parametrize(
    ("fields", "named", "rule"),
    [
        ({"model_name": "kling-v1-5", "image_reference": "subject"}, "image_reference", "needs an image"),
        ({"image": "data:image/png;base64,"}, "image", "data:"),
        ({"image": "data:image/png;base64," + PNG}, "image", "data:"),
        ({"image": base64.b64encode(b"just some text").decode()}, "image", "JPG or PNG"),
        ({"image": "not base64!"}, "image", "base64"),
        ({"resolution": "2k"}, "resolution", "kling-v1 does not support"),
        ({"resolution": "4k"}, "resolution", "must be one of"),
        ({"model_name": "kling-v1-5", "image": PNG}, "image_reference", "required by kling-v1-5"),
        ({"model_name": "kling-v2", "image": PNG, "image_reference": "face"}, "image_reference", "kling-v2"),
        ({"model_name": "kling-v2-new"}, "image", "no text-to-image"),
        ({"element_list": [{"element_id": 1}]}, "element_list", "not supported by kling-v1"),
        ({"model_name": "kling-v3", "element_list": [{"id": 1}]}, "element_list", "element_id"),
        ({"image": PNG, "negative_prompt": "blur"}, "negative_prompt", "image"),
        ({"n": 0}, "n", "1 to 9"),
        ({"n": True}, "n", "integer"),
        ({"prompt": "p" * 2501}, "prompt", "2500"),
        ({"prompt": "   "}, "prompt", "non-blank"),
        ({"image_fidelity": 1.5}, "image_fidelity", "0 to 1"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio", "must be one of"),
        ({"callback_url": "ftp://example.com"}, "callback_url", "http"),
        ({"watermark_info": {"enabled": "yes"}}, "watermark_info", "enabled"),
        ({"external_task_id": "x" * 257}, "external_task_id", "256"),
        ({"colour": "red"}, "colour", "not a field"),
    ],
)
def test_requests_kling_refuses_get_400_1201_naming_field_and_rule(
    kling_simulator: KlingSimulator, fields: dict[str, Any], named: str, rule: str
) -> None:
    response = _post(kling_simulator, {**BASE, **fields})

    assert (response.status_code, response.json()["code"]) == (400, 1201)
    message = response.json()["message"]
    assert f"{named}:" in message
    assert rule in message
    assert kling_simulator.tasks() == []


def test_the_docs_show_the_capability_table_of_the_rules() -> None:
    directive = ".. kling-markdown-table:: airflow_provider_kling.testing.rules:capability_table"
    assert directive in DOCS_PAGE.read_text()


def test_every_model_row_is_complete() -> None:
    for name, model in rules.MODELS.items():
        assert model.resolutions, name
        assert set(model.units_per_image) == set(model.resolutions), name
        assert set(model.reference_types) <= set(rules.REFERENCE_TYPES), name
        assert model.text_to_image or model.whole_image_reference or model.reference_types, name


# Both rule sets over the same cases. The client's request model is what a pipeline sends; the
# simulator's rules are Kling's. Where they differ, one of them is wrong about Kling (or the
# client is stricter on purpose): the known differences are listed with why.
CASES: dict[str, dict[str, Any]] = {
    "minimal": {},
    "no model_name": {"model_name": None},
    "no n": {"n": None},
    "human_fidelity without image": {"human_fidelity": 0.45},
    "watermark_info": {"watermark_info": {"enabled": True}},
    "element_list on kling-v3": {"model_name": "kling-v3", "element_list": [{"element_id": 1}]},
    "element_list on kling-v1": {"element_list": [{"element_id": 1}]},
    "image_reference without image": {"model_name": "kling-v1-5", "image_reference": "subject"},
    "empty data URI image": {"image": "data:image/png;base64,"},
    "data URI image": {"image": "data:image/png;base64," + PNG},
    "base64 of no image": {"image": base64.b64encode(b"just some text").decode()},
    "PNG base64 image": {"image": PNG},
    "URL image": {"image": "https://example.com/a.png"},
    "kling-v1 at 2k": {"resolution": "2k"},
    "kling-v2 at 2k": {"model_name": "kling-v2", "resolution": "2k"},
    "kling-v1-5 image without image_reference": {"model_name": "kling-v1-5", "image": PNG},
    "kling-v1-5 face reference": {"model_name": "kling-v1-5", "image": PNG, "image_reference": "face"},
    "kling-v2 subject reference": {"model_name": "kling-v2", "image": PNG, "image_reference": "subject"},
    "kling-v2-new without image": {"model_name": "kling-v2-new"},
    "negative_prompt with image": {"image": PNG, "negative_prompt": "blur"},
    "n 0": {"n": 0},
    "n 10": {"n": 10},
    "blank optional strings": {"negative_prompt": "", "image": "", "image_reference": "", "callback_url": ""},
    "prompt of 2501 characters": {"prompt": "x" * 2501},
    "unknown field": {"colour": "red"},
    "external_task_id with a space": {"external_task_id": "a b"},
    "external_task_id of 257 characters": {"external_task_id": "x" * 257},
}
KNOWN_DIFFERENCES = {
    # The client always sends model_name and n (the reseller requires them): stricter on purpose.
    "no model_name": "client requires it, Kling defaults to kling-v1",
    "no n": "client requires it, Kling defaults to 1",
    # The client is stricter about ids it builds itself.
    "external_task_id with a space": "client refuses whitespace in ids it sends",
    # Issue 11, the client's half (models.py): fixed there, these lines go.
    "human_fidelity without image": "Kling accepts it and ignores it",
    "watermark_info": "documented field",
    "element_list on kling-v3": "documented field",
    "image_reference without image": "Kling: image is required when image_reference is set",
    "empty data URI image": "an empty image with a data: prefix",
    "base64 of no image": "Kling takes JPG/PNG only",
    "kling-v1 at 2k": "per-model capability",
    "kling-v2 subject reference": "per-model capability",
    "kling-v2-new without image": "per-model capability",
}


def _client_sends(body: dict[str, Any]) -> dict[str, Any] | None:
    """What the client would put on the wire for ``body``, or None when it refuses it."""
    try:
        return ImageGenerationRequest.build(**body).to_json()
    except KlingRequestValidationError:
        return None


def _simulator_accepts(body: dict[str, Any]) -> bool:
    try:
        rules.validate(body)
    except rules.RuleViolation:
        return False
    return True


def differences() -> dict[str, str]:
    found = {}
    for name, fields in CASES.items():
        body = {k: v for k, v in {**BASE, **fields}.items() if v is not None}
        sent = _client_sends(body)
        if sent is not None and not _simulator_accepts(sent):
            found[name] = "the client sends it, Kling (the simulator) refuses it"
        elif sent is None and _simulator_accepts(body):
            found[name] = "the client refuses it, Kling (the simulator) accepts it"
    return found


def test_client_and_simulator_rules_differ_only_where_known() -> None:
    found = differences()
    print("\n".join(f"{name}: {why}" for name, why in found.items()))  # the list, with -s

    assert set(found) <= set(KNOWN_DIFFERENCES), set(found) - set(KNOWN_DIFFERENCES)


def test_the_simulator_imports_none_of_the_clients_code() -> None:
    code = (
        "import sys, airflow_provider_kling.testing.server, airflow_provider_kling.testing.__main__;"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_kling.')"
        " and not m.startswith('airflow_provider_kling.testing')))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "model_name", [name for name in rules.SERVED_BY["kling"] if rules.MODELS[name].text_to_image]
)
def test_klings_own_prefix_serves_every_model_whose_retirement_is_unconfirmed(
    kling_simulator: KlingSimulator, model_name: str
) -> None:
    headers = {"Authorization": f"Bearer {kling_simulator.api_key}"}
    body = {**BASE, "model_name": model_name}
    assert (
        httpx.post(
            f"{kling_simulator.root_url}/v1/images/generations", json=body, headers=headers
        ).status_code
        == 200
    )
