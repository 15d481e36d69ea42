"""models/task.py reads video tasks: task_result.videos, task_info.parent_video, and XCom with durations."""

from __future__ import annotations

from airflow_provider_kling.models.task import KlingTask, task_from_data

EXTENDED = {
    "task_id": "860000000000000001",
    "task_status": "succeed",
    "task_info": {
        "external_task_id": "airflow-x",
        "parent_video": {"id": "v-source", "url": "https://cdn.example/source.mp4", "duration": "5"},
    },
    "created_at": 1796286779653,
    "updated_at": 1796286789653,
    "final_unit_deduction": "1.5",
    "task_result": {
        "videos": [
            {
                "id": "v-extended",
                "url": "https://cdn.example/extended.mp4",
                "watermark_url": "https://cdn.example/extended-wm.mp4",
                "duration": 10.1,
            }
        ]
    },
}


def test_a_video_task_is_read_by_the_one_task_model():
    task = task_from_data(EXTENDED, "task 860000000000000001")

    assert isinstance(task, KlingTask)
    assert [(v.id, v.duration) for v in task.videos] == [("v-extended", "10.1")]
    assert task.parent_video is not None and task.parent_video.id == "v-source"
    assert task.images == []


def test_xcom_carries_each_video_with_its_duration_and_the_parent():
    summary = task_from_data(EXTENDED, "t").to_xcom()

    assert summary["videos"] == [
        {
            "id": "v-extended",
            "url": "https://cdn.example/extended.mp4",
            "duration": "10.1",
            "watermark_url": "https://cdn.example/extended-wm.mp4",
        }
    ]
    assert summary["parent_video"] == {
        "id": "v-source",
        "url": "https://cdn.example/source.mp4",
        "duration": "5",
    }
    assert summary["final_unit_deduction"] == "1.5"
    assert summary["images"] == []


def test_image_tasks_keep_their_xcom_shape():
    task = task_from_data(
        {"task_id": "1", "task_status": "succeed", "task_result": {"images": [{"index": 0, "url": "u"}]}}, "t"
    )
    assert "videos" not in task.to_xcom() and "parent_video" not in task.to_xcom()
    assert task.videos == []


def test_odd_video_fields_from_a_reseller_do_not_make_the_task_unreadable():
    task = task_from_data(
        {
            "task_id": 7,
            "task_status": "processing",
            "task_info": {"parent_video": ""},
            "task_result": {"videos": None},
        },
        "t",
    )
    assert task.videos == [] and task.parent_video is None
