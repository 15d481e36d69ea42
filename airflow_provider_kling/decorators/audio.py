"""``@task.kling_audio``: the TaskFlow form of the operators that make audio, made by the one factory.

The decorated function returns a dict of the request fields: a sound effect's ``prompt`` and
``duration`` (text-to-audio); ``kind=`` runs another audio kind's operator, found by the kind it
declares (``kind="text-to-speech"``: ``text`` and ``voice_id``; ``kind="video-to-audio"``)::

    @task.kling_audio(kind="text-to-speech", output_path="s3://bucket/voices", voice_language="en")
    def narration(script: dict) -> dict:
        return {"text": script["line"], "voice_id": "oversea_male1"}
"""

from __future__ import annotations

from airflow_provider_kling.decorators.kling import make_kind_task_decorator
from airflow_provider_kling.operators.audio import KlingTextToAudioOperator

_KlingAudioDecoratedOperator, kling_audio_task = make_kind_task_decorator(
    KlingTextToAudioOperator, "kling_audio"
)
