"""Custom voices and custom elements: resources a Kling task makes, which later requests name by id.

A create is a task (``/v1`` envelope, one ``external_task_id``, paid once like any other); its
result lists the resource (``task_result.voices[]`` / ``elements[]``). Kling's ids are 64-bit
integers (829836802793406551 does not fit a float): here they are strings, kept exact, and a
``/v1`` body that wants a number gets the exact integer. No I/O and no Airflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    check_http_url,
    check_image,
    plain_items,
)
from airflow_provider_kling.models.task import KlingTask, _Tolerant
from airflow_provider_kling.unit_prices import UnitRule, task_rule


@dataclass(frozen=True)
class ResourceKind:
    """Where one kind of resource lives: its create/query/list path, presets, delete path, page size."""

    name: str
    path: str
    presets_path: str
    delete_path: str
    max_page_size: int

    @property
    def id_key(self) -> str:
        return f"{self.name}_id"

    @property
    def result_key(self) -> str:
        return f"{self.name}s"


_V1 = "/v1/general/"
VOICE = ResourceKind("voice", f"{_V1}custom-voices", f"{_V1}presets-voices", f"{_V1}delete-voices", 1000)
ELEMENT = ResourceKind(
    "element",
    f"{_V1}advanced-custom-elements",
    f"{_V1}advanced-presets-elements",
    f"{_V1}delete-advanced-elements",
    500,
)
RESOURCE_KINDS: Mapping[str, ResourceKind] = {kind.name: kind for kind in (VOICE, ELEMENT)}


def resource_kind(name: str) -> ResourceKind:
    """The :class:`ResourceKind` called ``name``; ValueError naming the kinds otherwise."""
    try:
        return RESOURCE_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown Kling resource {name!r}: one of {', '.join(RESOURCE_KINDS)}") from None


def exact_id(value: Any, field: str = "id", *, digits: bool = True) -> str:
    """A Kling id as a string: a 64-bit id from an int or a string of digits (a float is refused:
    it may already have lost digits); with ``digits=False`` any name too (``oversea_male1``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and (value.strip().isdigit() or (not digits and value.strip())):
        return value.strip()
    rule = "a positive integer id, as an int or a string of digits" if digits else "an id string"
    raise ValueError(f"{field}: must be {rule} (got {value!r})")


class _ResourceRequest(KlingTaskRequest):
    unit_rule: ClassVar[UnitRule] = task_rule
    resource: ClassVar[ResourceKind]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.paths = {ApiStyle.V1: cls.resource.path}
        cls.path = cls.resource.path


class CustomVoiceRequest(_ResourceRequest):
    """``POST /v1/general/custom-voices``: a voice cloned from 5-30 s of one clean voice."""

    kind: ClassVar[str] = "custom-voice"
    resource: ClassVar[ResourceKind] = VOICE

    voice_name: str = Field(max_length=20, description="The voice's name (at most 20 characters).")
    voice_url: str | None = Field(default=None, description="An http(s) URL of MP3/WAV/MP4/MOV, 5-30 s.")
    video_id: str | None = Field(
        default=None, description="A Kling video with sound (v2.6, avatar, lip sync)."
    )

    _url = field_validator("voice_url")(classmethod(lambda cls, value: check_http_url(value)))

    @model_validator(mode="after")
    def _one_source(self) -> CustomVoiceRequest:
        if self.voice_url is None and self.video_id is None:
            raise ValueError("voice_url: one of voice_url or video_id is required")
        return self

    def unconfirmed_fields(self) -> dict[str, str]:
        if self.voice_url is not None and self.video_id is not None:
            return {"video_id": "whether voice_url and video_id exclude each other is UNCONFIRMED"}
        return {}


class ElementImages(BaseModel):
    """``element_image_list``: the frontal image and 1-3 more angles (``[{"image_url": ...}]`` or URLs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frontal_image: str
    refer_images: list[dict[str, str]] = Field(min_length=1, max_length=3)

    _plain = field_validator("refer_images", mode="before")(plain_items("image_url"))
    _frontal = field_validator("frontal_image")(classmethod(lambda cls, value: check_image(value)))

    @field_validator("refer_images")
    @classmethod
    def _images(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        if any(set(item) != {"image_url"} for item in value):
            raise ValueError('each must be {"image_url": <URL or base64>}')
        return [{"image_url": str(check_image(item["image_url"]))} for item in value]


class ElementVideos(BaseModel):
    """``element_video_list``: one reference video (mp4/mov, 3-8 s, 1080p), its voice cloned and bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    refer_videos: list[dict[str, str]] = Field(min_length=1, max_length=1)

    _plain = field_validator("refer_videos", mode="before")(plain_items("video_url"))

    @field_validator("refer_videos")
    @classmethod
    def _urls(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        if any(set(item) != {"video_url"} or check_http_url(item["video_url"]) is None for item in value):
            raise ValueError('each must be {"video_url": <http(s) URL>}')
        return value


class CustomElementRequest(_ResourceRequest):
    """``POST /v1/general/advanced-custom-elements``: a character reused across requests."""

    kind: ClassVar[str] = "custom-element"
    resource: ClassVar[ResourceKind] = ELEMENT

    element_name: str = Field(max_length=20, description="At most 20 characters.")
    element_description: str = Field(max_length=100, description="At most 100 characters.")
    reference_type: Literal["image_refer", "video_refer"]
    element_image_list: ElementImages | None = None
    element_video_list: ElementVideos | None = None
    element_voice_id: str | None = None
    tag_list: list[dict[Literal["tag_id"], Annotated[str, Field(pattern=r"^o_10[1-8]$")]]] | None = None

    _plain_tags = field_validator("tag_list", mode="before")(plain_items("tag_id"))

    @model_validator(mode="after")
    def _references(self) -> CustomElementRequest:
        wanted, other = (
            ("element_image_list", "element_video_list")
            if self.reference_type == "image_refer"
            else ("element_video_list", "element_image_list")
        )
        if getattr(self, wanted) is None:
            raise ValueError(f"{wanted}: is required with reference_type {self.reference_type!r}")
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: not taken with reference_type {self.reference_type!r}")
        return self


class CustomResource(_Tolerant):
    """One voice or element as Kling lists it; ``id`` is the string of its 64-bit id."""

    kind: str
    id: str
    name: str | None = None
    status: str | None = None
    owned_by: str | None = None
    #: a voice's sample (``trial_url``)
    trial_url: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def resources_of(task: KlingTask, kind: ResourceKind | str) -> list[CustomResource]:
    """The voices or elements a task's result lists (``task_result.voices``/``elements``), ids exact."""
    kind = resource_kind(kind) if isinstance(kind, str) else kind
    items = (task.task_result.model_extra or {}).get(kind.result_key) or []
    name_key, digits = f"{kind.name}_name", kind is ELEMENT
    return [
        CustomResource.model_validate(
            {
                **{key: value for key, value in item.items() if key not in (kind.id_key, name_key)},
                "kind": kind.name,
                "id": exact_id(item[kind.id_key], kind.id_key, digits=digits),
                "name": item.get(name_key),
            }
        )
        for item in items
        if isinstance(item, dict) and item.get(kind.id_key) is not None
    ]


def delete_body(kind: ResourceKind, resource_id: Any) -> dict[str, Any]:
    """``{voice_id: "..."}`` or ``{element_id: <exact integer>}`` (the ``/v1`` element id is a number)."""
    text = exact_id(resource_id, kind.id_key, digits=kind is ELEMENT)
    return {kind.id_key: int(text) if kind is ELEMENT else text}
