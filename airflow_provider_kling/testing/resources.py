"""Custom voices and custom elements, as the simulator's own rules (Kling's ``2.6-voice-mgt`` and
``omni-3.0-element-mgt`` pages), never imported from the client.

A create is a task like any other (create, query by task or external id, list at its path); its
result lists the resource: ``voices[{voice_id, voice_name, trial_url, owned_by}]`` or
``elements[{element_id (a 64-bit number), element_name, reference_type, owned_by, status}]``. The
ids are 18 digits, past what a float holds exactly. ``POST /v1/general/delete-voices {voice_id}``
and ``delete-advanced-elements {element_id}`` (a number) delete one of the account's own; presets
(``presets-voices``, ``advanced-presets-elements``) list Kling's. Voice tasks take 0.05 units
(Kling's page); element tasks a STAND-IN 1 unit (no price is published).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, validate_at
from airflow_provider_kling.testing.rules import ImageRequest
from airflow_provider_kling.testing.state import SimulatorState

VOICE_UNITS, ELEMENT_UNITS = 0.05, 1.0
PRESET_VOICE = {"voice_id": "oversea_male1", "voice_name": "Oversea male 1", "owned_by": "kling"}
PRESET_ELEMENT = {"element_id": 829836802793406551, "element_name": "Preset hero", "owned_by": "kling"}
ELEMENT_FIELDS = ("element_name", "element_description", "reference_type", "element_image_list",
                  "element_video_list", "element_voice_id", "tag_list")  # fmt: skip
TAGS = tuple(f"o_{number}" for number in range(101, 109))


@dataclass(frozen=True)
class ResourceRequest(ImageRequest):
    """An accepted voice or element create; ``deleted`` is set by a delete call."""

    resource: str = "voice"
    product_type: str = "video"
    deleted: dict[str, bool] = field(default_factory=dict, compare=False, hash=False)

    def resource_id(self, task_id: str) -> int:
        return int(task_id) * 2 + 1  # odd and above 2**53: a float would always round it

    def render_result(self, task_id: str, image_root: str) -> dict[str, Any]:
        ident, name = self.resource_id(task_id), self.body.get(f"{self.resource}_name")
        if self.resource == "voice":
            voices = [] if self.deleted else [
                {"voice_id": str(ident), "voice_name": name, "owned_by": "user",
                 "trial_url": f"{image_root.rsplit('/images', 1)[0]}/voices/{ident}.mp3"}
            ]  # fmt: skip
            return {"voices": voices}
        keys = ("reference_type", "element_image_list", "element_video_list", "tag_list")
        element = {
            "element_id": ident,
            "element_name": name,
            **{k: self.body[k] for k in keys if k in self.body},
        }
        return {
            "elements": [{**element, "owned_by": "user", "status": "deleted" if self.deleted else "succeed"}]
        }


def _request(fields: dict[str, Any], resource: str, units: float) -> ResourceRequest:
    return ResourceRequest(
        model_name=resource,
        prompt=str(fields[f"{resource}_name"]),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        endpoint=f"custom-{resource}",
        units_each=units,
        resource=resource,
    )


def _short(check: _Checker, name: str, most: int) -> None:
    check.text(name, required=True)
    value = check.fields.get(name)
    if isinstance(value, str) and len(value) > most:
        check.problems.append(f"{name}: must be at most {most} characters (got {len(value)})")


def _voice(fields: dict[str, Any]) -> ResourceRequest:
    check = _Checker(fields, ("voice_name", "voice_url", "video_id", "callback_url", "external_task_id"))
    check.common()
    _short(check, "voice_name", 20)
    check.text("voice_url")
    check.text("video_id")
    if "voice_url" not in fields and "video_id" not in fields:
        check.problems.append("voice_url: one of voice_url or video_id is required")
    check.raise_if_any()
    return _request(fields, "voice", VOICE_UNITS)


def _element(fields: dict[str, Any]) -> ResourceRequest:
    check = _Checker(fields, (*ELEMENT_FIELDS, "callback_url", "external_task_id"))
    check.common()
    _short(check, "element_name", 20)
    _short(check, "element_description", 100)
    check.text("reference_type", required=True, choices=("image_refer", "video_refer"))
    check.text("element_voice_id")
    images, videos = fields.get("element_image_list"), fields.get("element_video_list")
    if fields.get("reference_type") == "image_refer":
        refer = images.get("refer_images") if isinstance(images, dict) else None
        if not isinstance(refer, list) or not 1 <= len(refer) <= 3 or "frontal_image" not in images:  # type: ignore[operator]
            check.bad("element_image_list", "needs frontal_image and 1 to 3 refer_images", images)
        else:
            check.image("element_image_list.frontal_image", images["frontal_image"])  # type: ignore[index]
            for position, item in enumerate(refer):
                check.image(
                    f"element_image_list.refer_images.{position}.image_url", (item or {}).get("image_url")
                )
    elif fields.get("reference_type") == "video_refer":
        refer = videos.get("refer_videos") if isinstance(videos, dict) else None
        if (
            not isinstance(refer, list)
            or len(refer) != 1
            or not str(refer[0].get("video_url")).startswith("http")
        ):
            check.bad("element_video_list", "needs refer_videos: exactly one {video_url}", videos)
    tags = fields.get("tag_list", [])
    if not isinstance(tags, list) or any(
        not isinstance(t, dict) or t.get("tag_id") not in TAGS for t in tags
    ):
        check.bad("tag_list", f"must be a list of {{tag_id}} from {TAGS[0]} to {TAGS[-1]}", tags)
    check.raise_if_any()
    return _request(fields, "element", ELEMENT_UNITS)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("custom-voice", "/v1/general/custom-voices", _voice),
    Endpoint("custom-element", "/v1/general/advanced-custom-elements", _element),
)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> ResourceRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: ResourceRequest = validate_at(BY_KIND, kind, body)
    return request


def routes(prefix: str, api_call: Callable[..., Any]) -> list[Route]:
    """Delete and presets routes of voices and elements, through the app's ``api_call``."""

    def delete(resource: str) -> Callable[[Request], Any]:
        key = f"{resource}_id"

        async def handler(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
            try:
                wanted = (await request.json()).get(key)
            except (ValueError, AttributeError):
                wanted = None
            if resource == "element" and (not isinstance(wanted, int) or isinstance(wanted, bool)):
                raise ApiError.of(1201, f"{key}: is required, a number (got {wanted!r})")
            if resource == "voice" and not isinstance(wanted, str):
                raise ApiError.of(1201, f"{key}: is required, a string (got {wanted!r})")
            for task in state.account_tasks(owner):
                req = task.request
                if isinstance(req, ResourceRequest) and req.resource == resource and not req.deleted:
                    if str(req.resource_id(task.task_id)) == str(wanted):
                        req.deleted["deleted"] = True
                        return {
                            "task_id": str(10**17 + secrets.randbelow(9 * 10**17)),
                            "task_status": "succeed",
                        }
            raise ApiError(404, 1203, f"{key}: the account has no custom {resource} {wanted!r}")

        async def endpoint(request: Request) -> Any:
            return await api_call(request, "queries", handler)

        return endpoint

    def presets(item: dict[str, Any], result_key: str) -> Callable[[Request], Any]:
        async def handler(request: Request, state: SimulatorState, owner: str) -> list[dict[str, Any]]:
            task = {
                "task_id": "0",
                "task_status": "succeed",
                "task_info": {},
                "task_result": {result_key: [item]},
            }
            return [task]

        async def endpoint(request: Request) -> Any:
            return await api_call(request, "lists", handler)

        return endpoint

    return [
        Route(f"{prefix}/v1/general/delete-voices", delete("voice"), methods=["POST"]),
        Route(f"{prefix}/v1/general/delete-advanced-elements", delete("element"), methods=["POST"]),
        Route(f"{prefix}/v1/general/presets-voices", presets(PRESET_VOICE, "voices"), methods=["GET"]),
        Route(
            f"{prefix}/v1/general/advanced-presets-elements",
            presets({**PRESET_ELEMENT, "status": "succeed"}, "elements"),
            methods=["GET"],
        ),
    ]
