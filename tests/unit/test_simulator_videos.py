"""The simulator's video endpoints (testing/videos.py, testing/video_rules.py): create, query and list
at each path, one slot per video task, MP4 results with durations, units and watermarked copies, the
image endpoints' markers, progress and download faults, video-extend's own rules; and agreement with
the client's request models over shared cases (the two are written independently)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.requests import REQUEST_KINDS
from airflow_provider_kling.testing import make_png, mp4
from airflow_provider_kling.testing.rules import RuleViolation
from airflow_provider_kling.testing.video_rules import VIDEO_KINDS, validate
from tests.unit.test_simulator_callbacks import receiver  # noqa: F401 - the fixture

PHOTO = base64.b64encode(make_png("photo", 0, 400, 400)).decode()
SMALL = base64.b64encode(make_png("small", 0, 200, 200)).decode()
URL = "https://example.com/a.png"
CLIP = "https://example.com/clip.mp4"


def _no_source(video: str) -> None:
    return None


def sim_validate(kind: str, body: dict[str, Any]):
    return validate(kind, dict(body), source=_no_source, now=time.time(), retention=30 * 86400)


#: (kind, body) -> whether Kling accepts it, by its pages.
CASES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "t2v plain": ("text2video", {"model_name": "kling-v2-6", "prompt": "a fox"}, True),
    "t2v v1 discontinued": ("text2video", {"model_name": "kling-v1", "prompt": "a fox"}, False),
    "t2v v2-6 10 s pro sound": (
        "text2video",
        {"model_name": "kling-v2-6", "prompt": "p", "duration": "10", "mode": "pro", "sound": "on"},
        True,
    ),
    "t2v 7 s": ("text2video", {"model_name": "kling-v2-6", "prompt": "p", "duration": "7"}, False),
    "t2v v3 4k 15 s": (
        "text2video",
        {"model_name": "kling-v3", "prompt": "p", "mode": "4k", "duration": "15"},
        True,
    ),
    "t2v v2-6 4k": ("text2video", {"model_name": "kling-v2-6", "prompt": "p", "mode": "4k"}, False),
    "t2v master with mode": (
        "text2video",
        {"model_name": "kling-v2-master", "prompt": "p", "mode": "pro"},
        False,
    ),
    "t2v v2 cfg": ("text2video", {"model_name": "kling-v2-5-turbo", "prompt": "p", "cfg_scale": 0.5}, False),
    "t2v v1-6 cfg": ("text2video", {"model_name": "kling-v1-6", "prompt": "p", "cfg_scale": 0.5}, True),
    "t2v turbo sound": (
        "text2video",
        {"model_name": "kling-v2-5-turbo", "prompt": "p", "sound": "on"},
        False,
    ),
    "t2v ratio 4:3": (
        "text2video",
        {"model_name": "kling-v2-6", "prompt": "p", "aspect_ratio": "4:3"},
        False,
    ),
    "t2v camera one move": (
        "text2video",
        {
            "model_name": "kling-v1-6",
            "prompt": "p",
            "camera_control": {"type": "simple", "config": {"zoom": 5}},
        },
        True,
    ),
    "t2v camera two moves": (
        "text2video",
        {
            "model_name": "kling-v1-6",
            "prompt": "p",
            "camera_control": {"type": "simple", "config": {"zoom": 5, "pan": 1}},
        },
        False,
    ),
    "t2v camera preset": (
        "text2video",
        {"model_name": "kling-v1-6", "prompt": "p", "camera_control": {"type": "forward_up"}},
        True,
    ),
    "t2v no prompt": ("text2video", {"model_name": "kling-v2-6"}, False),
    "t2v multi-shot": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": "p",
            "duration": "8",
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [
                {"index": 1, "prompt": "a", "duration": "3"},
                {"index": 2, "prompt": "b", "duration": "5"},
            ],
        },
        True,
    ),
    "t2v multi-shot on v2-6": (
        "text2video",
        {"model_name": "kling-v2-6", "prompt": "p", "multi_shot": True},
        False,
    ),
    "i2v first frame": ("image2video", {"model_name": "kling-v2-6", "image": PHOTO}, True),
    "i2v small image": ("image2video", {"model_name": "kling-v2-6", "image": SMALL}, False),
    "i2v no image": ("image2video", {"model_name": "kling-v2-6", "prompt": "p"}, False),
    "i2v tail in pro": (
        "image2video",
        {"model_name": "kling-v2-6", "image": URL, "image_tail": URL, "mode": "pro"},
        True,
    ),
    "i2v tail in std": (
        "image2video",
        {"model_name": "kling-v2-6", "image": URL, "image_tail": URL, "mode": "std"},
        False,
    ),
    "i2v tail and camera": (
        "image2video",
        {
            "model_name": "kling-v1-6",
            "image": URL,
            "image_tail": URL,
            "mode": "pro",
            "camera_control": {"type": "down_back"},
        },
        False,
    ),
    "i2v aspect ratio": (
        "image2video",
        {"model_name": "kling-v2-6", "image": URL, "aspect_ratio": "16:9"},
        False,
    ),
    "i2v voices with sound": (
        "image2video",
        {"model_name": "kling-v2-6", "image": URL, "sound": "on", "voice_list": [{"voice_id": "v"}]},
        True,
    ),
    "i2v voices without sound": (
        "image2video",
        {"model_name": "kling-v2-6", "image": URL, "voice_list": [{"voice_id": "v"}]},
        False,
    ),
    "i2v mask": (
        "image2video",
        {
            "model_name": "kling-v1-6",
            "image": URL,
            "dynamic_masks": [{"mask": URL, "trajectories": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}],
        },
        True,
    ),
    "omni text": ("omni-video", {"prompt": "p", "aspect_ratio": "16:9"}, True),
    "omni no ratio": ("omni-video", {"prompt": "p"}, False),
    "omni first frame": (
        "omni-video",
        {"prompt": "p", "image_list": [{"image_url": URL, "type": "first_frame"}]},
        True,
    ),
    "omni base video sets length": (
        "omni-video",
        {"prompt": "p", "video_list": [{"video_url": CLIP, "refer_type": "base"}], "duration": "5"},
        False,
    ),
    "omni feature video 7 s": (
        "omni-video",
        {
            "prompt": "<<<video_1>>>",
            "aspect_ratio": "1:1",
            "video_list": [{"video_url": CLIP, "refer_type": "feature"}],
            "duration": "7",
        },
        True,
    ),
    "omni text 7 s": ("omni-video", {"prompt": "p", "aspect_ratio": "1:1", "duration": "7"}, False),
    "omni 5 refs with video": (
        "omni-video",
        {
            "prompt": "p",
            "aspect_ratio": "1:1",
            "image_list": [{"image_url": URL}] * 5,
            "video_list": [{"video_url": CLIP}],
        },
        False,
    ),
    "omni v3 4k": (
        "omni-video",
        {"model_name": "kling-v3-omni", "prompt": "p", "aspect_ratio": "1:1", "mode": "4k"},
        True,
    ),
    "omni o1 4k": (
        "omni-video",
        {"model_name": "kling-video-o1", "prompt": "p", "aspect_ratio": "1:1", "mode": "4k"},
        False,
    ),
    "omni cites a missing image": ("omni-video", {"prompt": "<<<image_1>>>", "aspect_ratio": "1:1"}, False),
    "multi-image": (
        "multi-image2video",
        {"image_list": [{"image": URL}, {"image": PHOTO}], "prompt": "p"},
        True,
    ),
    "multi-image five": ("multi-image2video", {"image_list": [{"image": URL}] * 5, "prompt": "p"}, False),
    "multi-image no prompt": ("multi-image2video", {"image_list": [{"image": URL}]}, False),
}


_V1_NAMES = {"image": "first_frame", "image_tail": "last_frame", "sound": "audio"}


def _canonical(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A ``/v1`` body (Kling's page's field names) as the client's canonical request fields."""
    fields = {_V1_NAMES.get(name, name): value for name, value in body.items()}
    if "mode" in fields:
        fields["resolution"] = fields.pop("mode")
    if fields.get("audio") == "on":
        fields["audio"] = "native"
    for v1, ours, key in (
        ("voice_list", "voice_ids", "voice_id"),
        ("element_list", "element_ids", "element_id"),
    ):
        if v1 in fields:
            fields[ours] = [item[key] for item in fields.pop(v1)]
    if kind == "omni-video":
        for image in fields.pop("image_list", ()):
            where = {"first_frame": "first_frame", "end_frame": "last_frame"}.get(image.get("type"))
            if where:
                fields[where] = image["image_url"]
            else:
                fields.setdefault("reference_images", []).append(image["image_url"])
        for video in fields.pop("video_list", ()):
            fields[f"{video.get('refer_type') or 'feature'}_video"] = video["video_url"]
    return fields


def _client_accepts(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return REQUEST_KINDS[kind].build(**_canonical(kind, body)).to_json()
    except KlingRequestValidationError:
        return None


def _simulator_accepts(kind: str, body: dict[str, Any]) -> bool:
    try:
        sim_validate(kind, body)
    except RuleViolation:
        return False
    return True


@pytest.mark.parametrize("case", sorted(CASES))
def test_simulator_and_client_agree_with_klings_pages(case):
    kind, body, accepted = CASES[case]
    sent = _client_accepts(kind, body)
    assert (sent is not None) == accepted, f"client: {case}"
    assert _simulator_accepts(kind, sent if sent is not None else body) == accepted, f"simulator: {case}"


def test_a_broken_video_rule_names_field_rule_and_value():
    with pytest.raises(RuleViolation) as caught:
        sim_validate("text2video", {"model_name": "kling-v2-6", "prompt": "p", "duration": "7", "mode": "4k"})
    message = str(caught.value)
    assert message.startswith("Invalid Kling video request: ")
    assert "mode: kling-v2-6 takes std, pro (got '4k')" in message
    assert "duration: kling-v2-6 makes 5 or 10 s videos (got '7')" in message


def test_units_follow_model_mode_length_and_sound():
    def units(**body: Any) -> float:
        return sim_validate("text2video", {"prompt": "p", **body}).units

    base = units(model_name="kling-v2-6")
    assert units(model_name="kling-v2-6", duration="10") == 2 * base
    assert units(model_name="kling-v2-6", mode="pro") > base
    assert units(model_name="kling-v2-6", sound="on") == base  # 2.6 costs the same with sound
    assert units(model_name="kling-v3", sound="on") == 1.5 * units(model_name="kling-v3")
    assert units(model_name="kling-v3", mode="4k", duration="15") > units(
        model_name="kling-v3", duration="15"
    )


def client(simulator) -> httpx.Client:
    return httpx.Client(base_url=simulator.base_url, headers={"Authorization": f"Bearer {simulator.api_key}"})


def post(http: httpx.Client, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Kling's default model (kling-v1) is discontinued: the tests name a live one."""
    if kind in ("text2video", "image2video"):
        body = {"model_name": "kling-v2-6", **body}
    return http.post(f"/v1/videos/{kind}", json=body).json()


def create(http: httpx.Client, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = post(http, kind, body)
    assert answer["code"] == 0, answer
    return answer["data"]


def query(http: httpx.Client, kind: str, task_id: str) -> dict[str, Any]:
    return http.get(f"/v1/videos/{kind}/{task_id}").json()["data"]


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_every_video_endpoint_answers_create_query_and_list_at_its_own_path(kling_simulator, kind):
    kling_simulator.set_progress("immediate")
    bodies = {
        "text2video": {"model_name": "kling-v2-6", "prompt": "a fox", "duration": "10"},
        "image2video": {"model_name": "kling-v2-6", "image": PHOTO},
        "omni-video": {"prompt": "a fox", "aspect_ratio": "9:16"},
        "multi-image2video": {"image_list": [{"image": PHOTO}], "prompt": "a fox"},
    }
    with client(kling_simulator) as http:
        if kind == "video-extend":
            source = create(http, "text2video", {"model_name": "kling-v2-6", "prompt": "a fox"})
            video = query(http, "text2video", source["task_id"])["task_result"]["videos"][0]
            body: dict[str, Any] = {"video_id": video["id"], "prompt": "on and on"}
        else:
            body = bodies[kind]
        created = create(http, kind, {**body, "external_task_id": f"ext-{kind}"})
        assert created["task_status"] == "submitted" and created["task_result"] == {}
        done = query(http, kind, created["task_id"])
        by_external = query(http, kind, f"ext-{kind}")
        listed = http.get(f"/v1/videos/{kind}", params={"pageNum": 1, "pageSize": 10}).json()["data"]
        elsewhere = http.get(f"/v1/images/generations/{created['task_id']}").json()

    assert done["task_status"] == "succeed" and by_external["task_id"] == created["task_id"]
    (video,) = done["task_result"]["videos"]
    assert set(video) == {"id", "url", "duration"} and video["url"].endswith("/0.mp4")
    assert float(done["final_unit_deduction"]) > 0
    assert created["task_id"] in [task["task_id"] for task in listed]
    assert elsewhere["code"] == 1203  # found only at the path it was created at
    expected = {"text2video": "10", "video-extend": "10"}.get(kind, "5")
    assert video["duration"] == expected


def test_the_video_file_is_an_mp4_of_the_tasks_length_and_the_watermarked_copy_differs(kling_simulator):
    kling_simulator.set_progress("immediate")
    with client(kling_simulator) as http:
        task = create(
            http, "text2video", {"prompt": "p", "duration": "10", "watermark_info": {"enabled": True}}
        )
        (video,) = query(http, "text2video", task["task_id"])["task_result"]["videos"]
        plain = httpx.get(video["url"])
        marked = httpx.get(video["watermark_url"])
        unmarked_task = create(http, "text2video", {"prompt": "p"})
        (unmarked,) = query(http, "text2video", unmarked_task["task_id"])["task_result"]["videos"]
        missing = httpx.get(unmarked["url"].replace("/0.mp4", "/watermarked/0.mp4"))

    assert plain.headers["content-type"] == "video/mp4"
    assert int(plain.headers["content-length"]) == len(plain.content)
    assert [box for box, _, _ in mp4.read_boxes(plain.content)] == [b"ftyp", b"moov", b"mdat"]
    assert marked.content != plain.content and marked.content[4:8] == b"ftyp"
    assert missing.status_code == 404
    assert kling_simulator.counters(kling_simulator.api_key)["videos"] == 2


def test_a_video_of_a_simulator_image_shows_that_images_subject_then_its_prompt(kling_simulator):
    kling_simulator.set_progress("immediate")
    with client(kling_simulator) as http:
        body = {"model_name": "kling-v2", "prompt": "A brass desk lamp, soft light", "n": 1}
        image_task = http.post("/v1/images/generations", json=body).json()["data"]["task_id"]
        image = http.get(f"/v1/images/generations/{image_task}").json()["data"]["task_result"]["images"][0]
        task = create(http, "image2video", {"image": image["url"], "prompt": "It turns slowly"})
        (video,) = query(http, "image2video", task["task_id"])["task_result"]["videos"]
        made = httpx.get(video["url"]).content

    assert made == mp4.make_mp4("A brass desk lamp, It turns slowly", 5, *mp4.FRAME_SIZE["std"])


def test_a_video_task_holds_one_slot_at_any_length(kling_simulator):
    kling_simulator.set_slots(2)
    kling_simulator.set_progress("manual")
    with client(kling_simulator) as http:
        create(http, "text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "15"})
        create(http, "image2video", {"model_name": "kling-v2-6", "image": URL, "duration": "10"})
        third = post(http, "text2video", {"prompt": "p"})
        kling_simulator.advance(to="succeed")
        fourth = post(http, "text2video", {"prompt": "p"})

    assert third["code"] == 1303
    assert fourth["code"] == 0


def test_markers_progress_and_ttl_work_as_for_images(kling_simulator):
    kling_simulator.set_progress("manual")
    with client(kling_simulator) as http:
        refused = post(http, "text2video", {"prompt": "p #refuse"})
        failing = create(http, "text2video", {"prompt": "p #fail"})
        running = create(http, "text2video", {"prompt": "p"})
        kling_simulator.advance(running["task_id"])
        processing = query(http, "text2video", running["task_id"])
        kling_simulator.advance()  # failing: processing, running: succeed
        kling_simulator.advance()
        failed = query(http, "text2video", failing["task_id"])
        done = query(http, "text2video", running["task_id"])
        kling_simulator.set_image_ttl(0)
        expired = httpx.get(done["task_result"]["videos"][0]["url"])

    assert refused["code"] == 1301
    assert processing["task_status"] == "processing" and processing["task_result"] == {}
    assert failed["task_status"] == "failed" and failed["final_unit_deduction"] == "0"
    assert done["task_status"] == "succeed"
    assert expired.status_code == 404


def test_extend_needs_a_finished_video_of_the_account_and_stops_at_three_minutes(kling_simulator):
    kling_simulator.set_progress("manual")
    with client(kling_simulator) as http:
        source = create(http, "text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "15"})
        unfinished = http.post(
            "/v1/videos/video-extend", json={"video_id": f"vid-{source['task_id']}"}
        ).json()
        kling_simulator.set_progress("immediate")
        kling_simulator.advance(to="succeed")
        by_task_id = http.post("/v1/videos/video-extend", json={"video_id": source["task_id"]}).json()
        video = query(http, "text2video", source["task_id"])["task_result"]["videos"][0]
        for _ in range(33):  # 15 s + 33 x 5 s = 180 s
            extended = create(http, "video-extend", {"video_id": video["id"]})
            done = query(http, "video-extend", extended["task_id"])
            assert done["task_info"]["parent_video"]["id"] == video["id"]
            video = done["task_result"]["videos"][0]
        too_long = http.post("/v1/videos/video-extend", json={"video_id": video["id"]}).json()

    assert unfinished["code"] == 1201 and "no video" in unfinished["message"]
    assert by_task_id["code"] == 1201 and "a video id, not a task id" in by_task_id["message"]
    assert video["duration"] == "180"
    assert too_long["code"] == 1201 and "pass 3 minutes" in too_long["message"]


def test_parent_video_points_at_the_source_file(kling_simulator):
    kling_simulator.set_progress("immediate")
    with client(kling_simulator) as http:
        source = create(http, "text2video", {"prompt": "p"})
        video = query(http, "text2video", source["task_id"])["task_result"]["videos"][0]
        extended = create(http, "video-extend", {"video_id": video["id"]})

    assert extended["task_info"]["parent_video"] == {"id": video["id"], "duration": "5", "url": video["url"]}


def test_download_faults_apply_to_videos(kling_simulator):
    kling_simulator.set_progress("immediate")
    with client(kling_simulator) as http:
        task = create(http, "text2video", {"prompt": "p"})
        url = query(http, "text2video", task["task_id"])["task_result"]["videos"][0]["url"]
    kling_simulator.image_fault("html", k=1)
    html = httpx.get(url)
    kling_simulator.image_fault("huge", k=1, size=2 * 1024 * 1024)
    huge = httpx.get(url)

    assert html.headers["content-type"].startswith("text/html")
    assert len(huge.content) == 2 * 1024 * 1024 and huge.content[4:8] == b"ftyp"
    assert [box for box, _, _ in mp4.read_boxes(huge.content)] == [b"ftyp", b"moov", b"mdat"]


def test_a_video_tasks_callback_carries_its_videos(kling_simulator, receiver):  # noqa: F811
    kling_simulator.set_progress("immediate")
    with client(kling_simulator) as http:
        create(http, "text2video", {"prompt": "p", "callback_url": receiver.url})
    bodies = [json.loads(receiver.next()[1])]
    while bodies[-1]["task_status"] != "succeed":
        bodies.append(json.loads(receiver.next()[1]))

    assert bodies[-1]["task_result"]["videos"][0]["duration"] == "5"
    assert bodies[-1]["final_unit_deduction"] == "1.5"
