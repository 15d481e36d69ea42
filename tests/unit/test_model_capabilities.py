"""The capability table in ``models.capabilities``: it drives validation and the docs' model table."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.capabilities import (
    DEFAULT_IMAGE_MODEL,
    IMAGE_MODEL_CAPABILITIES,
    IMAGE_MODELS,
    MODEL_AVAILABILITY,
    ImageModelCapability,
    check_model_served,
    model_verdict,
    render_model_table,
)
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.testing.png import make_png

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "operators" / "image-generation.rst"


def png_head(width: int, height: int) -> bytes:
    """A PNG's signature and IHDR chunk: all the validation reads."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + b"\x00\x00\x00\x00"


def jpeg_head(width: int, height: int) -> bytes:
    """A JPEG's start, a JFIF APP0 segment, a quantisation table and the baseline frame header."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb\x00\x43\x00" + bytes(64)
    sof0 = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x03" + bytes(9)
    return b"\xff\xd8" + app0 + b"\xff\xff" + dqt + sof0 + b"\xff\xda\x00\x08"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PNG_B64 = b64(png_head(400, 300))
JPEG_B64 = b64(jpeg_head(300, 750))
IMAGE_URL = "https://example.com/cat.png"


def build(**overrides: Any) -> ImageGenerationRequest:
    fields: dict[str, Any] = {"model_name": "kling-v2", "prompt": "a red fox in snow", "n": 1}
    fields.update(overrides)
    return ImageGenerationRequest.build(**fields)


def rejection(**overrides: Any) -> str:
    with pytest.raises(KlingRequestValidationError) as caught:
        build(**overrides)
    return str(caught.value)


# --- the table -----------------------------------------------------------------------------------


def test_model_list_is_the_tables_rows_in_order() -> None:
    assert (
        IMAGE_MODELS
        == tuple(IMAGE_MODEL_CAPABILITIES)
        == (
            "kling-v1",
            "kling-v1-5",
            "kling-v2",
            "kling-v2-new",
            "kling-v2-1",
            "kling-v3",
        )
    )


def test_a_new_model_is_one_row_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    row = ImageModelCapability(
        name="kling-v9",
        text_to_image=True,
        image_use="",
        reference_types=(),
        reference_required=False,
        aspect_ratios=("1:1",),
        text_resolutions=("1k",),
        image_resolutions=(),
        elements=False,
        max_images=4,
    )
    monkeypatch.setitem(IMAGE_MODEL_CAPABILITIES, "kling-v9", row)  # type: ignore[arg-type]
    assert build(model_name="kling-v9", aspect_ratio="1:1", n=4).model_name == "kling-v9"
    assert "aspect_ratio: kling-v9 supports 1:1 (got '16:9')" in rejection(
        model_name="kling-v9", aspect_ratio="16:9"
    )
    assert "n: kling-v9 makes at most 4 images (got 5)" in rejection(model_name="kling-v9", n=5)
    assert "image: kling-v9 takes no image" in rejection(model_name="kling-v9", image=IMAGE_URL)


def test_the_docs_model_table_is_the_one_generated_from_the_capability_table() -> None:
    text = DOCS_PAGE.read_text(encoding="utf-8")
    directive = (
        r"^\.\. kling-markdown-table:: airflow_provider_kling\.models\.capabilities:render_model_table$"
    )
    assert re.search(directive, text, re.MULTILINE), "the docs render the model table from the code"


@pytest.mark.parametrize("row", IMAGE_MODEL_CAPABILITIES.values(), ids=IMAGE_MODELS)
def test_every_row_has_a_line_in_the_generated_table(row: ImageModelCapability) -> None:
    assert f"| `{row.name}` |" in render_model_table()


# --- per-model rules -----------------------------------------------------------------------------


def test_kling_v1_refuses_21_9_naming_the_ratios_it_supports() -> None:
    message = rejection(model_name="kling-v1", aspect_ratio="21:9")
    assert "aspect_ratio: kling-v1 supports 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3 (got '21:9')" in message


@pytest.mark.parametrize("model_name", ["kling-v1-5", "kling-v2", "kling-v2-1", "kling-v3"])
def test_21_9_is_accepted_by_the_models_that_support_it(model_name: str) -> None:
    assert build(model_name=model_name, aspect_ratio="21:9").aspect_ratio == "21:9"


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v1-5"])
def test_2k_is_refused_by_1k_only_models(model_name: str) -> None:
    message = rejection(model_name=model_name, resolution="2k")
    assert f"resolution: {model_name} text to image supports 1k (got '2k')" in message


@pytest.mark.parametrize("model_name", ["kling-v2", "kling-v2-1", "kling-v3"])
def test_2k_text_to_image_is_accepted_by_the_models_that_support_it(model_name: str) -> None:
    assert build(model_name=model_name, resolution="2k").to_json()["resolution"] == "2k"


def test_kling_v2_with_an_image_refuses_2k() -> None:
    message = rejection(model_name="kling-v2", image=IMAGE_URL, resolution="2k")
    assert "resolution: kling-v2 with an image supports 1k (got '2k')" in message


@pytest.mark.parametrize("model_name", ["kling-v2-1", "kling-v3"])
def test_2k_with_an_image_is_accepted_where_allowed(model_name: str) -> None:
    assert build(model_name=model_name, image=IMAGE_URL, resolution="2k").resolution == "2k"


def test_restyle_only_model_refuses_a_prompt_without_image() -> None:
    message = rejection(model_name="kling-v2-new")
    assert "image: required, kling-v2-new does not generate from text alone" in message


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v2", "kling-v2-new", "kling-v2-1"])
def test_image_reference_is_refused_by_models_without_reference_types(model_name: str) -> None:
    message = rejection(model_name=model_name, image=IMAGE_URL, image_reference="subject")
    assert f"image_reference: {model_name} takes no 'subject' reference" in message
    assert "models that do: kling-v1-5, kling-v3" in message


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3"])
def test_an_image_without_image_reference_is_accepted_except_by_kling_v1_5(model_name: str) -> None:
    assert build(model_name=model_name, image=IMAGE_URL).image == IMAGE_URL


@pytest.mark.parametrize("image", [None, "", "  "])
def test_image_reference_without_image_is_refused(image: str | None) -> None:
    message = rejection(model_name="kling-v1-5", image=image, image_reference="face")
    assert "image_reference: needs an image" in message


def test_every_broken_capability_is_named_in_one_message() -> None:
    message = rejection(model_name="kling-v1", aspect_ratio="21:9", resolution="2k", image_reference="face")
    assert "aspect_ratio:" in message and "resolution:" in message and "image_reference:" in message
    assert message.count("request:") == 1  # only in the headline, never as a field name


# --- documented fields: watermark_info and element_list ------------------------------------------


@pytest.mark.parametrize("model_name", IMAGE_MODELS)
@pytest.mark.parametrize("enabled", [True, False])
def test_watermark_info_is_accepted_by_every_model(model_name: str, enabled: bool) -> None:
    reference = "subject" if IMAGE_MODEL_CAPABILITIES[model_name].reference_required else None
    request = build(
        model_name=model_name, image=IMAGE_URL, image_reference=reference, watermark_info={"enabled": enabled}
    )
    assert request.to_json()["watermark_info"] == {"enabled": enabled}


@pytest.mark.parametrize(
    ("watermark_info", "rule"),
    [
        ({}, "watermark_info.enabled: Field required"),
        ({"enabled": "yes"}, "watermark_info.enabled: Input should be a valid boolean"),
        ({"enabled": True, "position": "corner"}, "watermark_info.position: Extra inputs are not permitted"),
        (True, "watermark_info: Input should be a valid dictionary"),
    ],
)
def test_malformed_watermark_info_is_refused_naming_the_rule(watermark_info: Any, rule: str) -> None:
    assert rule in rejection(watermark_info=watermark_info)


def test_element_list_is_accepted_by_kling_v3_and_sent_as_element_ids() -> None:
    body = build(model_name="kling-v3", element_list=[{"element_id": 7}, {"element_id": 8}]).to_json()
    assert body["element_list"] == [{"element_id": 7}, {"element_id": 8}]


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v1-5", "kling-v2", "kling-v2-1"])
def test_element_list_is_refused_by_models_without_elements(model_name: str) -> None:
    message = rejection(model_name=model_name, element_list=[{"element_id": 7}])
    assert f"element_list: {model_name} takes no elements; models that do: kling-v3" in message


def test_ten_elements_are_accepted_without_an_image() -> None:
    elements = [{"element_id": i} for i in range(1, 11)]
    assert len(build(model_name="kling-v3", element_list=elements).element_list or []) == 10


def test_ten_elements_and_an_image_are_refused_as_more_than_ten_references() -> None:
    elements = [{"element_id": i} for i in range(1, 11)]
    message = rejection(model_name="kling-v3", image=IMAGE_URL, element_list=elements)
    assert "at most 10 elements and reference images together (got 10 elements and an image)" in message


def test_eleven_elements_are_refused() -> None:
    message = rejection(model_name="kling-v3", element_list=[{"element_id": i} for i in range(1, 12)])
    assert "element_list: List should have at most 10 items" in message


@pytest.mark.parametrize(
    ("element", "rule"),
    [
        ({"element_id": 0}, "greater than 0"),
        ({"element_id": 7.0}, "valid integer"),  # a float may have lost digits; "7" is read as 7
        ({"element_id": "seven"}, "valid integer"),
        ({"element_id": 7, "name": "cat"}, "Extra inputs are not permitted"),
        ({}, "Field required"),
    ],
)
def test_malformed_element_is_refused_naming_its_position(element: dict[str, Any], rule: str) -> None:
    message = rejection(model_name="kling-v3", element_list=[element])
    assert "element_list.0" in message and rule in message


def test_empty_element_list_is_left_out_of_the_json() -> None:
    assert "element_list" not in build(model_name="kling-v1", element_list=[]).to_json()


# --- the reference image -------------------------------------------------------------------------


@pytest.mark.parametrize("image", [PNG_B64, JPEG_B64])
def test_base64_of_a_png_or_jpeg_is_accepted(image: str) -> None:
    assert build(image=image).image == image


@pytest.mark.parametrize("prefix", ["data:image/png;base64,", "DATA:image/jpeg;BASE64,"])
def test_data_uri_without_data_is_refused(prefix: str) -> None:
    message = rejection(model_name="kling-v1-5", image=prefix, image_reference="subject")
    assert "image: the data: URI carries no image data" in message


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x01\x00\x01\x00", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"hello, not an image", b"\x00" * 16],
    ids=["gif", "webp", "text", "zeros"],
)
def test_base64_that_is_not_a_png_or_jpeg_is_refused(data: bytes) -> None:
    message = rejection(image=base64.b64encode(data).decode())
    assert "image: base64 data must decode to a JPEG or PNG file" in message


def test_base64_image_over_10_mb_is_refused_with_its_size() -> None:
    head = png_head(400, 300)
    data = head + b"\x00" * (10 * 1024 * 1024 + 1 - len(head))
    message = rejection(image=base64.b64encode(data).decode())
    assert f"the image is {len(data)} bytes; Kling accepts at most 10485760 (10 MB)" in message
    assert len(message) < 400


def test_base64_image_of_exactly_10_mb_is_accepted() -> None:
    head = png_head(400, 300)
    data = head + b"\x00" * (10 * 1024 * 1024 - len(head))
    assert build(image=base64.b64encode(data).decode()).image is not None


def test_a_whole_png_as_the_simulator_draws_it_is_accepted() -> None:
    assert build(image=b64(make_png("a harbour", 0, 512, 300))).image is not None


@pytest.mark.parametrize(
    ("data", "size"),
    [(png_head(299, 400), "299x400"), (jpeg_head(1000, 200), "1000x200"), (png_head(300, 300), None)],
    ids=["png-narrow", "jpeg-low", "png-300-square"],
)
def test_image_smaller_than_300_pixels_on_a_side_is_refused(data: bytes, size: str | None) -> None:
    if size is None:
        assert build(image=b64(data)).image is not None
        return
    message = rejection(image=b64(data))
    assert f"image: the image is {size} pixels; Kling needs at least 300 on each side" in message


@pytest.mark.parametrize(
    ("data", "accepted"),
    [(png_head(750, 300), True), (png_head(751, 300), False), (jpeg_head(300, 751), False)],
    ids=["2.5:1", "over-2.5:1", "jpeg-over-1:2.5"],
)
def test_image_aspect_ratio_beyond_1_to_2_5_is_refused(data: bytes, accepted: bool) -> None:
    if accepted:
        assert build(image=b64(data)).image is not None
    else:
        assert "Kling accepts aspect ratios from 1:2.5 to 2.5:1" in rejection(image=b64(data))


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n cut short", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\xff\xda\x00\x08 no frame"],
    ids=["png", "jpeg-truncated", "jpeg-scan-before-frame"],
)
def test_image_whose_size_cannot_be_read_is_refused_as_malformed(data: bytes) -> None:
    assert "is cut short or malformed" in rejection(image=b64(data))


@pytest.mark.parametrize("image", ["https://", "http:///cat.png"])
def test_url_without_host_is_refused(image: str) -> None:
    assert "image: an http(s) URL needs a host name" in rejection(image=image)


# --- what Kling's own clients send ---------------------------------------------------------------


def test_the_resellers_documented_example_body_is_accepted() -> None:
    # The reseller's example request: blanks for unused fields and human_fidelity 0.45 without a subject.
    body = build(
        model_name="kling-v1",
        prompt="a beach at dawn",
        negative_prompt="",
        image="",
        image_reference="",
        human_fidelity=0.45,
        resolution="1k",
        n=2,
        aspect_ratio="16:9",
        callback_url="",
    ).to_json()
    assert body == {
        "model_name": "kling-v1",
        "prompt": "a beach at dawn",
        "human_fidelity": 0.45,
        "resolution": "1k",
        "n": 2,
        "aspect_ratio": "16:9",
    }


def test_kling_v2_1_image_example_from_klings_page_is_accepted() -> None:
    request = build(model_name="kling-v2-1", prompt="Generate a Pixar-style puppy", image=IMAGE_URL, n=2)
    assert request.to_json()["image"] == IMAGE_URL


# --- where each model is served ------------------------------------------------------------------

KLING_HOST = "https://api-singapore.klingai.com"
RESELLER = "https://www.kkiai.com/kling"
TODAY = date(2026, 12, 3)


def test_the_default_model_is_served_on_klings_hosts_and_the_reseller_with_no_end() -> None:
    for base_url in (KLING_HOST, RESELLER, "https://api-beijing.klingai.com"):
        verdict = model_verdict(DEFAULT_IMAGE_MODEL, base_url, today=TODAY)
        assert (verdict.refusal, verdict.warning) == (None, None)
    assert MODEL_AVAILABILITY[DEFAULT_IMAGE_MODEL].retiring is None


@pytest.mark.parametrize("model_name", ["kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new"])
def test_a_model_only_missing_from_klings_pages_is_sent_there_with_a_warning_naming_the_date(
    model_name: str,
) -> None:
    # No live answer refused these on Kling's own hosts: refusing them protects no money (Kling
    # charges nothing for a request it refuses) and broke Kling's own clients.
    warning = check_model_served(model_name, KLING_HOST, today=TODAY)
    assert warning is not None
    assert f"{model_name} is no longer listed on Kling's own hosts (not since 2026-09-20" in warning
    assert "UNCONFIRMED" in warning and "use kling-v3 instead" in warning


def test_a_retirement_a_live_answer_confirmed_is_refused_naming_its_successor() -> None:
    row = MODEL_AVAILABILITY["kling-v2"]
    confirmed = replace(row, served=tuple(replace(served, confirmed=True) for served in row.served))
    with patch.dict(MODEL_AVAILABILITY, {"kling-v2": confirmed}):
        with pytest.raises(KlingRequestValidationError) as caught:
            check_model_served("kling-v2", KLING_HOST, today=TODAY)
        assert "refuse_retired" not in str(caught.value)
        assert "kling-v2 is no longer served on Kling's own hosts (not since 2026-09-20)" in str(caught.value)
        assert "use kling-v3 instead" in str(caught.value)
        warning = check_model_served("kling-v2", KLING_HOST, today=TODAY, refuse_retired=False)
        assert warning is not None and "sent anyway" in warning


def test_a_model_kling_retired_is_sent_to_the_reseller_with_a_warning_naming_the_date() -> None:
    warning = check_model_served("kling-v1", RESELLER, today=TODAY)
    assert warning is not None
    assert "Kling no longer serves kling-v1 on its own hosts (not since 2026-09-20)" in warning
    assert "the reseller (www.kkiai.com) still lists it" in warning and "kling-v3" in warning


def test_a_retirement_still_ahead_is_a_warning_with_its_date_even_on_klings_host() -> None:
    verdict = model_verdict("kling-v2", KLING_HOST, today=date(2026, 9, 1))
    assert verdict.refusal is None
    assert verdict.warning == "Kling is retiring kling-v2 on 2026-09-20; use kling-v3 instead"


def test_refuse_retired_false_sends_a_retired_model_with_a_warning() -> None:
    verdict = model_verdict("kling-v1", KLING_HOST, today=TODAY, refuse_retired=False)
    assert verdict.refusal is None
    assert verdict.warning is not None and "sent anyway" in verdict.warning


@pytest.mark.parametrize(
    "model_name", ["kling-v2-1", "kling-v3", "kling-image-o1", "kling-v3-omni", "kling-v9"]
)
def test_current_and_unknown_models_pass_without_a_word(model_name: str) -> None:
    for base_url in (KLING_HOST, RESELLER, "http://127.0.0.1:8765/kling"):
        assert check_model_served(model_name, base_url, today=TODAY) is None


def test_a_host_that_is_neither_kling_nor_the_reseller_is_never_refused_a_model() -> None:
    verdict = model_verdict("kling-v1", "http://127.0.0.1:8765/kling", today=TODAY)
    assert verdict.refusal is None and verdict.host is None
    assert verdict.warning is not None and "may still take it" in verdict.warning


def test_every_image_and_omni_model_has_a_row_of_where_it_is_served() -> None:
    from airflow_provider_kling.models.capabilities import OMNI_MODELS

    assert set(MODEL_AVAILABILITY) == set(IMAGE_MODELS) | set(OMNI_MODELS)
    for row in MODEL_AVAILABILITY.values():
        assert row.successor is None or row.successor in IMAGE_MODEL_CAPABILITIES
        assert row.on("kling") is not None, f"{row.name}: Kling's own hosts are always stated"


def test_the_generated_table_says_where_each_model_is_served() -> None:
    table = render_model_table()
    assert "| `kling-v1` |" in table and "| until 2026-09-20 | yes | `kling-v3` |" in table
    assert f"| `{DEFAULT_IMAGE_MODEL}` (default) |" in table
    assert "| `kling-v3-omni` | 1k, 2k, 4k | yes | since 2026-02-25 |" in table
