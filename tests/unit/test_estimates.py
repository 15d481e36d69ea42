"""estimates.py and unit_prices.py: what a request of any kind should deduct, learnt from the
account's finished tasks, else the user's price table, else the stand-in prices (labelled so)."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from airflow_provider_kling import estimates, unit_prices
from airflow_provider_kling.estimates import (
    Estimate,
    UnitEstimator,
    check_price_table,
    estimate_requests,
    learn_from_account,
    purchase_of,
)
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import (
    REQUEST_KINDS,
    ExpandImageRequest,
    ImageGenerationRequest,
    MultiImageRequest,
    OmniImageRequest,
    VirtualTryOnRequest,
)
from airflow_provider_kling.testing import make_png
from airflow_provider_kling.testing import rules as simulator_rules
from airflow_provider_kling.unit_prices import (
    PRICE_TABLE,
    STAND_IN_LABEL,
    Purchase,
    video_rule,
)

PHOTO = base64.b64encode(make_png("a studio photo", 0, 400, 400)).decode()
PORTRAIT = base64.b64encode(make_png("a model standing", 0, 360, 480)).decode()

#: One request of every image kind, priced differently by the simulator.
REQUESTS = {
    "generations-v1": lambda: ImageGenerationRequest.build(model_name="kling-v1", prompt="a cat", n=3),
    "generations-2k": lambda: ImageGenerationRequest.build(
        model_name="kling-v2-1", prompt="a dog", n=2, resolution="2k"
    ),
    "omni-image": lambda: OmniImageRequest.build(prompt="<<<image_1>>> on a beach", image_list=[PHOTO], n=2),
    "omni-series": lambda: OmniImageRequest.build(
        model_name="kling-v3-omni", prompt="a story", result_type="series", series_amount=3, resolution="2k"
    ),
    "multi-image2image": lambda: MultiImageRequest.build(subject_image_list=[PHOTO, PORTRAIT], n=2),
    "expand": lambda: ExpandImageRequest.build(image=PHOTO, left_expansion_ratio=0.5, n=2),
    "virtual-try-on": lambda: VirtualTryOnRequest.build(human_image=PORTRAIT, cloth_image=PHOTO),
}


def run_on_simulator(hook: KlingHook, request) -> dict:
    created = hook.create_task(request)
    task = hook.wait_for_task(created.task_id, poll_interval=0.01, timeout=300, endpoint=request.endpoint)
    return task.model_dump(mode="json")


def test_generations_stand_in_table_is_the_simulators() -> None:
    simulator = {name: dict(row.units_per_image) for name, row in simulator_rules.MODELS.items()}
    assert PRICE_TABLE == simulator


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_stand_in_estimate_of_every_image_kind_is_what_the_simulator_deducts(kling_connection, name) -> None:
    kling_connection.set_progress("immediate")
    request = REQUESTS[name]()
    task = run_on_simulator(KlingHook(), request)

    estimate = UnitEstimator().estimate_request(request)
    assert estimate.source == "stand-in" and estimate.source_label == STAND_IN_LABEL
    assert estimate.units == float(task["final_unit_deduction"]) > 0


def test_a_request_model_and_a_mapping_of_its_fields_buy_the_same() -> None:
    for name in REQUESTS:
        request = REQUESTS[name]()
        as_fields = {"kind": request.kind, **request.to_json()}
        assert purchase_of(request) == purchase_of(as_fields), name
    # Defaults of the kind are filled in: omni-image's model, generations' 1k.
    assert purchase_of({"kind": "omni-image", "prompt": "x"}) == Purchase(
        "omni-image", "kling-image-o1", "1k", 1
    )
    assert purchase_of({"prompt": "x", "model_name": "kling-v3", "n": 4}).key == "generations/kling-v3/1k"
    assert purchase_of({"request_kind": "virtual-try-on"}).per == "task"


def test_video_is_priced_per_second_by_model_mode_and_sound() -> None:
    estimator = UnitEstimator()

    def units(kind: str = "text2video", **fields: Any) -> float:
        return estimator.estimate_request({"kind": kind, **fields}).units

    assert units(model_name="kling-v3", resolution="720p", duration="10") == pytest.approx(6.0)
    assert units(model_name="kling-v3", resolution="pro", duration=5, audio="native") == pytest.approx(6.0)
    assert units(model_name="kling-v3", resolution="4k", duration=4, audio=True) == pytest.approx(12.0)
    assert units(model_name="kling-v2-6", resolution="1080p", audio="on") == pytest.approx(2.5)  # silent, 5 s
    assert units("image2video", model_name="kling-v2-master", duration=10) == pytest.approx(20.0)  # no mode
    assert units("omni-video", model_name="kling-video-o1", resolution="1080p", duration=3) == pytest.approx(
        2.4
    )
    # The same kind with a model-path model: priced by its resolution.
    assert units(model_name="kling-3.0", resolution="1080p", duration=5) == pytest.approx(4.0)
    assert units("video-extend", video_id="v1") == pytest.approx(1.5)  # about 5 s more of its source
    turbo = Purchase("text2video", "kling-3.0-turbo", "1080p", 3, "second")
    assert unit_prices.price_in(estimates.STAND_IN_PRICES, turbo) == 1.0
    with pytest.raises(ValueError, match="duration must be a number of seconds"):
        units(model_name="kling-v3", duration="long")


def test_every_kinds_unit_rule_and_stand_in_prices_are_its_request_class_declaration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for kind, cls in REQUEST_KINDS.items():
        assert estimates.UNIT_RULES[kind] is cls.unit_rule
        assert estimates.STAND_IN_PRICES[kind] is cls.stand_in_prices
    monkeypatch.setitem(estimates.UNIT_RULES, "storyboard-test", video_rule)  # type: ignore[index]
    monkeypatch.setitem(estimates.STAND_IN_PRICES, "storyboard-test", {"kling-v9": {"std": 1.0}})  # type: ignore[index]
    estimator = UnitEstimator()
    assert estimator.estimate_request({"kind": "storyboard-test", "model_name": "kling-v9"}).units == 5.0
    with pytest.raises(ValueError, match="no unit price for storyboard-test kling-v8 std, 5 seconds"):
        estimator.estimate_request({"kind": "storyboard-test", "model_name": "kling-v8"})


def test_a_request_model_with_a_units_basis_is_priced_by_it() -> None:
    class VideoLike(BaseModel):
        """What the video request kinds expose: Kling's defaults applied in ``units_basis``."""

        kind: ClassVar[str] = "image2video"
        model_name: str = "kling-v3"
        mode: str | None = None
        duration: str | None = None

        @property
        def units_basis(self) -> dict[str, Any]:
            return {"model_name": self.model_name, "mode": self.mode or "std", "duration": 5, "sound": True}

    assert purchase_of(VideoLike()) == Purchase("image2video", "kling-v3", "std+audio", 5.0, "second")
    assert UnitEstimator().estimate_request(VideoLike()).units == pytest.approx(4.5)


def test_learnt_prices_come_first_then_your_table_then_the_stand_in() -> None:
    table = {"generations": {"kling-v3": {"1k": 8, "2k": 16}}, "expand": {"*": {"*": 3}}}
    estimator = UnitEstimator(price_table=table)
    assert (
        estimator.estimate("kling-v3", "2k", 2).units,
        estimator.estimate("kling-v3", "2k", 2).source,
    ) == (
        32.0,
        "price table",
    )
    assert estimator.estimate_request({"kind": "expand", "n": 2}).units == 6.0
    assert estimator.estimate("kling-v1", "1k", 2).source == "stand-in"  # not in your table

    estimator.learn("kling-v3", "2k", 2, 30.0)
    learnt = estimator.estimate("kling-v3", "2k", 3)
    assert (learnt.units, learnt.source) == (45.0, "learnt")
    assert estimator.estimate("kling-v3", "1k", 1).source == "price table"  # another tier: not learnt


def test_learning_keeps_the_highest_rate_and_the_units_of_each_exact_quantity() -> None:
    estimator = UnitEstimator()
    estimator.learn("kling-v2-1", "1k", 2, 3.0)  # 1.5 per image
    estimator.learn("kling-v2-1", "1k", 1, 1.0)  # cheaper: the estimate keeps erring high
    estimator.learn("kling-v2-1", "1k", 1, 0.0)  # a failed task teaches nothing
    estimator.learn("kling-v2-1", "1k", 1, None)
    assert estimator.estimate("kling-v2-1", "1k", 4).units == 6.0
    assert estimator.estimate("kling-v2-1", "1k", 1).units == 1.0  # seen exactly: not linear
    # A video of 10 s priced less than twice 5 s: each length seen is estimated as seen.
    estimator.learn_request({"kind": "text2video", "model_name": "kling-v3", "duration": 5}, 4.0)
    estimator.learn_request({"kind": "text2video", "model_name": "kling-v3", "duration": 10}, 7.0)
    assert (
        estimator.estimate_request({"kind": "text2video", "model_name": "kling-v3", "duration": 10}).units
        == 7.0
    )
    assert (
        estimator.estimate_request({"kind": "text2video", "model_name": "kling-v3", "duration": 15}).units
        == 12.0
    )


def test_unknown_model_needs_a_fallback_or_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no unit price for generations kling-v9 1k, 1 image"):
        UnitEstimator().estimate("kling-v9", "1k", 1)
    fallback = UnitEstimator(fallback_per_image=5).estimate("kling-v9", "1k", 2)
    assert (fallback.units, fallback.source) == (10.0, "fallback")
    with pytest.raises(ValueError, match="n must be a whole number of images >= 1"):
        UnitEstimator().estimate("kling-v1", "1k", 0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kling-v1": {"1k": 1}}, "'kling-v1' is not a request kind.*write {'generations': {'kling-v1'"),
        (
            {"generations": {"kling-v1": {"1k": -1}}},
            r"price_table\['generations'\]\['kling-v1'\]\['1k'\] must be",
        ),
        ({"expand": 2}, r"price_table\['expand'\] must map model names"),
        ([1], "price_table must be a mapping"),
    ],
)
def test_a_price_table_is_checked_entry_by_entry(table, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_price_table(table)
    with pytest.raises(ValueError, match=message):
        UnitEstimator(price_table=table)


def test_estimator_round_trips_through_json_with_its_table() -> None:
    estimator = UnitEstimator(price_table={"expand": {"*": {"*": 3}}}, fallback_per_image=3.0)
    estimator.learn("kling-v3", "2k", 2, 7.0)
    again = UnitEstimator.from_json(json.loads(json.dumps(estimator.to_json())))
    assert again.estimate("kling-v3", "2k", 1).units == 3.5
    assert again.estimate_request({"kind": "expand"}).units == 3.0
    assert again.fallback_per_image == 3.0


def test_task_records_teach_by_request_when_paired_else_per_image_of_their_kind() -> None:
    estimator = UnitEstimator()
    records = [
        # paired by task id: learnt by model and resolution
        {
            "task_id": "1",
            "task_status": "succeed",
            "final_unit_deduction": "24",
            "task_result": {"images": [{}] * 3},
        },
        # paired by external task id
        {
            "task_id": "2",
            "task_status": "succeed",
            "task_info": {"external_task_id": "ext-2"},
            "final_unit_deduction": "10",
            "task_result": {"images": [{}]},
        },
        # not paired: 5 units per image of image generation, whatever the model
        {
            "task_id": "3",
            "task_status": "succeed",
            "final_unit_deduction": "10",
            "task_result": {"images": [{}] * 2},
        },
        {"task_id": "4", "task_status": "failed", "final_unit_deduction": "0"},
        {"task_id": "5", "task_status": "processing"},
    ]
    requests = {
        "1": {"model_name": "kling-v3", "resolution": "2k", "n": 3},
        "ext-2": {"model_name": "kling-v2-1", "n": 1},
    }
    assert estimator.learn_from_tasks(records, requests=requests) == 3
    assert estimator.estimate("kling-v3", "2k", 1).units == 8.0
    assert estimator.estimate("kling-v2-1", "1k", 2).units == 20.0
    unseen = estimator.estimate("kling-v1", "1k", 2)
    assert (unseen.units, unseen.source) == (10.0, "learnt")
    # ... but your price table knows better than a rate of the whole kind
    with_table = UnitEstimator(price_table={"generations": {"kling-v1": {"1k": 1}}})
    with_table.learn_from_tasks(records)
    assert with_table.estimate("kling-v1", "1k", 2).source == "price table"


def test_new_style_records_teach_from_billing_in_units_and_video_seconds() -> None:
    estimator = UnitEstimator()
    records = [
        {
            "id": "v1",
            "status": "succeeded",
            "external_id": "ext-v1",
            "outputs": [{"video": {"id": "a", "url": "https://x/a.mp4", "duration": "10"}}],
            "billing": [{"charge_type": "unit", "amount": "12.0"}, {"charge_type": "cash", "amount": "1"}],
        },
        {"id": "v2", "status": "succeeded", "outputs": [{"video": {"duration": "5"}}], "billing": []},
    ]
    requests = {"ext-v1": {"model": "kling-3.0", "resolution": "1080p", "duration": 10, "audio": "native"}}
    assert estimator.learn_from_tasks(records, kind="text2video", requests=requests) == 1
    learnt = estimator.estimate_request(
        {
            "kind": "text2video",
            "model": "kling-3.0",
            "resolution": "1080p",
            "duration": 5,
            "audio": "native",
        }
    )
    assert (learnt.units, learnt.source) == (6.0, "learnt")


def test_learn_from_account_reads_each_kinds_finished_tasks_through_the_hook(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    made = {name: run_on_simulator(hook, REQUESTS[name]()) for name in ("generations-2k", "expand")}

    paired = learn_from_account(
        hook, requests={made["generations-2k"]["task_id"]: REQUESTS["generations-2k"]()}
    )
    assert paired.estimate("kling-v2-1", "2k", 2).source == "learnt"
    expand = paired.estimate_request({"kind": "expand", "n": 2})
    assert (expand.units, expand.source) == (float(made["expand"]["final_unit_deduction"]), "learnt")
    assert paired.estimate_request({"kind": "omni-image"}).source == "stand-in"  # none finished


def test_learn_from_account_skips_a_kind_it_cannot_list(kling_connection, caplog) -> None:
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    run_on_simulator(hook, REQUESTS["generations-v1"]())
    calls = []

    class OneKindRefused:
        def list_tasks(self, *, page_num, page_size, endpoint, api_style="v1"):
            calls.append(endpoint)
            if endpoint != "/v1/images/generations":
                from airflow_provider_kling.errors import KlingPermissionError

                raise KlingPermissionError("no permission for this API", code=1103)
            return hook.list_tasks(
                page_num=page_num, page_size=page_size, endpoint=endpoint, api_style=api_style
            )

    log = logging.getLogger("test.learn")
    with caplog.at_level(logging.INFO, logger="test.learn"):
        estimator = learn_from_account(OneKindRefused(), log=log)
    assert len(calls) == len(REQUEST_KINDS)  # every kind asked once
    assert estimator.estimate("kling-v1", "1k", 1).source == "learnt"
    assert "Could not read the account's omni-image tasks" in caplog.text


def test_a_list_of_requests_of_any_kind_is_totalled_with_its_sources_and_costliest_items() -> None:
    estimator = UnitEstimator(price_table={"expand": {"*": {"*": 3}}})
    estimator.learn("kling-v1", "1k", 1, 1.5)
    requests = [
        *({"prompt": f"cat {i}", "model_name": "kling-v1"} for i in range(12)),
        {"kind": "expand", "n": 2},
        REQUESTS["omni-series"](),
        {"kind": "text2video", "model_name": "kling-v3", "resolution": "1080p", "duration": 10},
    ]
    estimate = estimate_requests(requests, estimator)

    assert estimate.units == pytest.approx(12 * 1.5 + 6 + 12 + 8)
    assert estimate.units_by_source() == {"learnt": 18.0, "price table": 6.0, "stand-in": 20.0}
    top = estimate.most_expensive()
    assert len(top) == 10
    assert [item.index for item in top[:3]] == [13, 14, 12]
    assert top[0].label == "omni-image kling-v3-omni 2k, 3 images: a story"
    text = estimate.describe()
    assert text.startswith("about 44 units for 15 requests (")
    assert "20 at stand-in prices, not your account's" in text
    assert json.loads(json.dumps(estimate.to_json()))["by_source"]["learnt"] == 18.0


def test_batch_manifest_items_teach_the_price_of_what_each_bought() -> None:
    poster = Purchase("generations", "kling-v3", "2k", 2).to_json()
    rows = [
        {"key": "a", "status": "succeeded", "units": "16", "priced_as": poster},
        {"key": "b", "status": "failed", "units": "0", "priced_as": poster},
        {"key": "c", "status": "succeeded", "units": "3", "priced_as": None},  # a kind without a rule
        {"key": "d", "status": "over_budget", "units": None, "priced_as": poster},
    ]
    estimator = UnitEstimator()
    assert estimator.learn_from_manifest(rows) == 1
    assert estimator.estimate("kling-v3", "2k", 3) == Estimate(
        24.0, 8.0, "learnt", purchase_of({"model_name": "kling-v3", "resolution": "2k", "n": 3})
    )


#: One request of every video kind, at different models, modes, lengths and sound.
VIDEO_REQUESTS = {
    "t2v-v3-pro-sound": (
        "text2video",
        {"model_name": "kling-v3", "prompt": "a fox", "resolution": "1080p", "duration": 10, "audio": True},
    ),
    "t2v-v3-4k": (
        "text2video",
        {"model_name": "kling-v3", "prompt": "a fox", "resolution": "4k", "duration": 4},
    ),
    "t2v-3.0-1080p": ("text2video", {"model_name": "kling-3.0", "prompt": "a fox", "resolution": "1080p"}),
    "t2v-master": ("text2video", {"model_name": "kling-v2-master", "prompt": "a fox", "duration": 10}),
    "i2v-v2-6-pro": ("image2video", {"model_name": "kling-v2-6", "first_frame": PHOTO, "resolution": "pro"}),
    # mode given: the client takes Kling's default "pro", the simulator's default is "std".
    "omni-video": ("omni-video", {"prompt": "a fox", "aspect_ratio": "9:16", "resolution": "1080p"}),
    "multi-image2video": ("multi-image2video", {"image_list": [{"image": PHOTO}], "prompt": "a fox"}),
}


@pytest.mark.parametrize("name", sorted(VIDEO_REQUESTS))
def test_stand_in_estimate_of_every_video_kind_is_what_the_simulator_deducts(kling_connection, name) -> None:
    from airflow_provider_kling.models.requests import request_class

    kling_connection.set_progress("immediate")
    kind, fields = VIDEO_REQUESTS[name]
    request = request_class(kind).build(**fields)
    task = run_on_simulator(KlingHook(), request)

    estimate = UnitEstimator().estimate_request(request)
    assert estimate.source == "stand-in"
    assert estimate.units == pytest.approx(float(task["final_unit_deduction"])) and estimate.units > 0
    # The same request as XCom carries it (a dict of its fields) is priced the same.
    fields = request.model_dump(mode="json", exclude_none=True)
    assert UnitEstimator().estimate_request({"kind": kind, **fields}).units == pytest.approx(estimate.units)


def test_stand_in_estimate_of_a_video_extend_is_what_the_simulator_deducts(kling_connection) -> None:
    from airflow_provider_kling.models.requests import request_class

    kling_connection.set_progress("immediate")
    hook = KlingHook()
    source = run_on_simulator(
        hook, request_class("text2video").build(model_name="kling-v2-6", prompt="a fox")
    )
    extend = request_class("video-extend").build(video_id=source["task_result"]["videos"][0]["id"])
    task = run_on_simulator(hook, extend)

    assert UnitEstimator().estimate_request(extend).units == pytest.approx(
        float(task["final_unit_deduction"])
    )


def test_a_video_mapping_without_a_mode_is_priced_in_the_mode_its_kind_runs() -> None:
    """Omni-video runs ``pro`` when no mode is given (text-to-video ``std``): the request kind's own
    ``units_basis`` says so, for a request model and for a mapping of its fields alike."""
    from airflow_provider_kling.models.requests import OmniVideoRequest

    estimator = UnitEstimator()
    omni = {"kind": "omni-video", "prompt": "a shirt", "aspect_ratio": "1:1"}
    assert purchase_of(omni) == Purchase("omni-video", "kling-video-o1", "pro", 5, "second")
    assert purchase_of(omni) == purchase_of(OmniVideoRequest.build(prompt="a shirt", aspect_ratio="1:1"))
    assert estimator.estimate_request(omni).units == pytest.approx(4.0)  # 5 s at the stand-in 0.8/s pro
    # Incomplete fields (no aspect_ratio: the request would be refused) are still priced as it runs.
    assert purchase_of({"kind": "omni-video", "prompt": "a shirt"}).tier == "pro"
    # A mode given is kept; the other kinds' default stays std; a model without modes has none.
    assert purchase_of({**omni, "resolution": "720p"}).tier == "std"
    assert purchase_of({"kind": "text2video", "prompt": "a shirt"}).tier == "std"
    assert purchase_of({"kind": "text2video", "prompt": "x", "model_name": "kling-v2-master"}).tier == "std"
