"""The Kling request kinds by name: the one place each kind's name is written.

Imports nothing, so an operator names its kind at DAG-parse time for free. Everything else about a
kind (its paths per API style, output, slots, unit rule, image fields, default model, which models
take which API style) is declared on its request class in :mod:`airflow_provider_kling.models.requests`.
"""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    """A Kling request kind (one request class, one operator)."""

    GENERATIONS = "generations"
    OMNI_IMAGE = "omni-image"
    MULTI_IMAGE2IMAGE = "multi-image2image"
    EXPAND = "expand"
    VIRTUAL_TRY_ON = "virtual-try-on"
    TEXT2VIDEO = "text2video"
    IMAGE2VIDEO = "image2video"
    OMNI_VIDEO = "omni-video"
    VIDEO_EXTEND = "video-extend"
    MULTI_IMAGE2VIDEO = "multi-image2video"
    VIDEO_EFFECTS = "video-effects"
    TEXT_TO_AUDIO = "text-to-audio"
    VIDEO_TO_AUDIO = "video-to-audio"
    MOTION_CONTROL = "motion-control"
    AVATAR = "avatar"
    LIP_SYNC = "lip-sync"
    TEXT_TO_SPEECH = "text-to-speech"
    SUBJECT_COMPLETION = "subject-completion"
