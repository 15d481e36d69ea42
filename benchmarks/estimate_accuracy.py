"""How close the spend estimate of a mixed batch comes to what the account is charged.

Starts the Kling simulator on loopback with an account whose prices are NOT the stand-in table:
Kling's published Image 3.0 prices (8 units an image of kling-v3 / kling-v3-omni, 16 at 4k) and
made-up figures for the other kinds (see ``ACCOUNT_PRICES``). Runs ``--warm-up`` finished tasks of
each kind, learns the account's prices from its task list through the hook, estimates a mixed batch
(image generation, omni-image, expand, virtual try-on, text-to-video), runs the batch and prints, per
kind, what the simulator deducted beside each estimate and its error:

- learnt (paired): the account's finished tasks, each paired with the request that made it;
- learnt (kind only): the same tasks without their requests (Kling's records do not repeat them);
- stand-in: no learning, no price table.

Goal: the paired estimate within 5% once 20 tasks of each kind have finished. Asserts nothing.

    .venv/bin/python benchmarks/estimate_accuracy.py [--warm-up 20] [--batch 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import tempfile
from collections import defaultdict
from typing import Any

from airflow_provider_kling.lifecycle.poll import wait_for_task

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kling-bench-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

#: The benchmark account's units per image (per task for try-on), by kind, model and resolution.
ACCOUNT_PRICES: dict[str, dict[str, dict[str, float]]] = {
    "generations": {"kling-v3": {"1k": 8.0, "2k": 8.0}, "kling-v1": {"1k": 1.5}},
    "omni-image": {"kling-v3-omni": {"1k": 8.0, "2k": 8.0, "4k": 16.0}},
    "expand": {"*": {"*": 3.0}},
    "virtual-try-on": {"*": {"*": 2.5}},
    # units per second of text-to-video; sound costs half as much again on kling-v3
    "text2video": {
        "kling-v3": {"std": 0.7, "pro": 0.95, "std+audio": 1.05, "pro+audio": 1.4},
        "kling-v2-6": {"std": 0.35, "pro": 0.55},
    },
}


def account_units(request: Any) -> float:
    """What the benchmark account deducts for a create the simulator accepted."""
    if request.endpoint == "text2video":
        rates = ACCOUNT_PRICES["text2video"][request.model_name]
        tier = f"{request.mode}+audio" if request.body.get("sound") == "on" else request.mode
        return (rates.get(tier) or rates[request.mode]) * request.seconds
    prices = ACCOUNT_PRICES[request.endpoint]
    tiers = prices.get(request.model_name) or prices["*"]
    per = tiers.get(request.resolution) or tiers["*"]
    return per * (1 if request.endpoint == "virtual-try-on" else request.n)


def requests_of(kind: str, count: int, rng: random.Random) -> list[Any]:
    """``count`` requests of ``kind`` drawn from one mix (the warm-up and the batch share it)."""
    import base64

    from airflow_provider_kling.models.requests import (
        ExpandImageRequest,
        ImageGenerationRequest,
        OmniImageRequest,
        VirtualTryOnRequest,
        request_class,
    )
    from airflow_provider_kling.testing import make_png

    photo = base64.b64encode(make_png("a product", 0, 400, 400)).decode()
    person = base64.b64encode(make_png("a model", 0, 360, 480)).decode()
    made: list[Any] = []
    for i in range(count):
        if kind == "generations":
            if rng.random() < 0.7:
                made.append(
                    ImageGenerationRequest.build(
                        model_name="kling-v3",
                        prompt=f"poster {i}",
                        resolution=rng.choice(["1k", "2k"]),
                        n=rng.choice([1, 2, 4]),
                    )
                )
            else:
                made.append(
                    ImageGenerationRequest.build(
                        model_name="kling-v1", prompt=f"sketch {i}", n=rng.choice([1, 3])
                    )
                )
        elif kind == "omni-image":
            made.append(
                OmniImageRequest.build(
                    model_name="kling-v3-omni",
                    prompt=f"<<<image_1>>> scene {i}",
                    image_list=[photo],
                    resolution=rng.choice(["1k", "2k", "4k"]),
                    n=rng.choice([1, 2]),
                )
            )
        elif kind == "text2video":
            v3 = rng.random() < 0.6
            made.append(
                request_class("text2video").build(
                    model_name="kling-v3" if v3 else "kling-v2-6",
                    prompt=f"clip {i}",
                    resolution=rng.choice(["720p", "1080p"]),
                    duration=rng.choice([5, 10]),
                    audio=rng.random() < 0.5,
                )
            )
        elif kind == "expand":
            made.append(ExpandImageRequest.build(image=photo, left_expansion_ratio=0.5, n=rng.choice([1, 2])))
        else:
            made.append(VirtualTryOnRequest.build(human_image=person, cloth_image=photo))
    return made


def run(hook: Any, request: Any) -> tuple[str, float]:
    """Create, wait, and return the Kling task id and the units deducted."""
    from airflow_provider_kling.spend import units_of

    created = hook.create_task(request)
    task = wait_for_task(hook, created.task_id, poll_interval=0.01, timeout=30, endpoint=type(request).path)
    return task.task_id, units_of(task.final_unit_deduction) or 0.0


def error(estimate: float, actual: float) -> str:
    return f"{(estimate - actual) / actual * 100:+6.1f}%" if actual else "   n/a"


def main(warm_up: int, batch_size: int, seed: int) -> None:
    import json

    from airflow_provider_kling.estimates import UnitEstimator, estimate_requests, learn_from_account
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.testing import KlingSimulator
    from airflow_provider_kling.testing import rules as simulator_rules

    # The account's prices are not the simulator's stand-in ones (which equal the stand-in table).
    simulator_rules.ImageRequest.units = property(account_units)  # type: ignore[assignment,method-assign]
    rng = random.Random(seed)
    kinds = ("generations", "omni-image", "expand", "virtual-try-on", "text2video")
    quiet = contextlib.redirect_stdout(io.StringIO())  # the hook's "Created ..." lines
    with quiet, KlingSimulator(progress="immediate", pack_units=1e9) as simulator:
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = simulator.airflow_conn_json()
        hook = KlingHook()
        paired: dict[str, Any] = {}
        for kind in kinds:
            for request in requests_of(kind, warm_up, rng):
                task_id, _ = run(hook, request)
                paired[task_id] = request

        estimators = {
            "learnt (paired)": learn_from_account(hook, requests=paired, page_size=max(100, warm_up)),
            "learnt (kind only)": learn_from_account(hook, page_size=max(100, warm_up)),
            "stand-in": UnitEstimator(),
        }
        batch = {kind: requests_of(kind, batch_size, rng) for kind in kinds}
        estimated = {
            name: {kind: estimate_requests(batch[kind], estimator).units for kind in kinds}
            for name, estimator in estimators.items()
        }
        actual: dict[str, float] = defaultdict(float)
        for kind in kinds:
            for request in batch[kind]:
                actual[kind] += run(hook, request)[1]

    print(
        f"Estimate vs deducted: {warm_up} finished tasks of each kind learnt, {batch_size} per kind estimated"
    )
    print(f"account prices: {json.dumps(ACCOUNT_PRICES)}")
    header = f"{'kind':<16}{'deducted':>10}" + "".join(f"{name:>26}" for name in estimators)
    print(header)
    print("-" * len(header))
    for kind in (*kinds, "all"):
        real = sum(actual.values()) if kind == "all" else actual[kind]
        cells = []
        for name in estimators:
            units = sum(estimated[name].values()) if kind == "all" else estimated[name][kind]
            cells.append(f"{units:>11.1f} ({error(units, real)})")
        print(f"{kind:<16}{real:>10.1f}" + "".join(f"{cell:>26}" for cell in cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-up", type=int, default=20, help="finished tasks of each kind to learn from")
    parser.add_argument("--batch", type=int, default=30, help="requests of each kind in the estimated batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    main(args.warm_up, args.batch, args.seed)
