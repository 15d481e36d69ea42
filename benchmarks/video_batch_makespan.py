"""Makespan of a batch of video items at the account's slots: ``batch_makespan.py`` for text2video.

The same measurement as ``benchmarks/batch_makespan.py`` (its simulator, runners and figures), with
every item a text-to-video request (kling-v2-6, 5 s). A video task holds one slot at any length, so
the physical limit is ceil(N/S)*L. Prints makespan / limit on the worker and deferrable. (The
batch does not store video files yet: the figures are the generation phase plus the manifest.)

    python benchmarks/video_batch_makespan.py [--prompts 40] [--slots 4] [--latency 5]
        [--poll-interval 0.25] [--modes worker,deferrable]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "batch_makespan", Path(__file__).with_name("batch_makespan.py")
)
assert _spec is not None and _spec.loader is not None
batch_makespan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(batch_makespan)


def video_batch_operator(args: argparse.Namespace, output: Path, deferrable: bool) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_kling.operators.batch import KlingBatchOperator

    with DAG("bench", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            request_kind="text2video",
            requests=[{"prompt": f"benchmark video {i}", "duration": 5} for i in range(args.prompts)],
            slots=args.slots,
            poll_interval=args.poll_interval,
            output_path=str(output),
            deferrable=deferrable,
            progress_interval=max(5.0, args.latency * 2),
        )


if __name__ == "__main__":
    batch_makespan.batch_operator = video_batch_operator
    defaults = {"--prompts": "40", "--slots": "4", "--latency": "5", "--modes": "worker,deferrable"}
    argv = sys.argv[1:]
    for flag, value in defaults.items():
        if flag not in argv:
            argv += [flag, value]
    sys.argv = [sys.argv[0], *argv]
    sys.exit(batch_makespan.main())
