"""DAGs for the end-to-end tests of the video endpoints: each endpoint on the worker and deferred
(an image chained into image-to-video and then extend through plain XCom), and a text-to-video
task whose worker the test kills mid-wait."""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.video import (
    KlingImageToVideoOperator,
    KlingMultiImageToVideoOperator,
    KlingOmniVideoOperator,
    KlingTextToVideoOperator,
    KlingVideoExtendOperator,
)

OUTPUT = os.environ.get("KLING_TEST_OUTPUT", "build/test-output")
POLL = float(os.environ.get("KLING_TEST_POLL_INTERVAL", "0.2"))

for dag_id, deferrable in (("kling_video_endpoints", False), ("kling_video_endpoints_deferred", True)):
    with DAG(dag_id, schedule=None, catchup=False, tags=["kling", "test", "video"]):
        common = {"poll_interval": POLL, "output_path": OUTPUT, "deferrable": deferrable}
        # The simulator's 2k square is 512 px a side: large enough for Kling's 300 px rule.
        still = KlingImageGenerationOperator(
            task_id="still",
            prompt="a linen shirt on white",
            model_name="kling-v2-1",
            resolution="2k",
            aspect_ratio="1:1",
            n=1,
            **common,
        )
        clip = KlingImageToVideoOperator(
            task_id="clip", first_frame=still.output, prompt="it turns slowly", **common
        )
        KlingVideoExtendOperator(
            task_id="longer", video_id=clip.output, prompt="the camera pulls back", **common
        )
        KlingTextToVideoOperator(
            task_id="teaser",
            prompt="a linen shirt in the wind, {{ ds }}",
            duration=10,
            watermark_info={"enabled": True},
            **common,
        )
        KlingOmniVideoOperator(
            task_id="runway",
            prompt="<<<image_1>>> on a runway",
            reference_images=[still.output],
            aspect_ratio="9:16",
            **common,
        )
        KlingMultiImageToVideoOperator(
            task_id="duo", image_list=[still.output, still.output], prompt="two shirts dance", **common
        )

with DAG("kling_video_resume_after_kill", schedule=None, catchup=False, tags=["kling", "test", "video"]):
    KlingTextToVideoOperator(
        task_id="video", prompt="a slow product turn", poll_interval=POLL, output_path=OUTPUT
    )
