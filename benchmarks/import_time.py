"""How much importing a module adds once ``airflow.sdk`` is loaded: what a DAG file pays for it.

Each run is a fresh interpreter that imports ``airflow.sdk`` first, then times the import of one
module; the figure is the median of the runs, in milliseconds. For scale, a few other providers'
modules are timed the same way when they are installed.

    python benchmarks/import_time.py                        # the hook, plus the comparisons
    python benchmarks/import_time.py MODULE [MODULE ...]    # these modules, plus the comparisons
    python benchmarks/import_time.py --runs 15 --no-compare MODULE
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

DEFAULT_MODULE = "airflow_provider_kling.hooks.kling"
COMPARISONS = (
    "airflow.providers.standard.operators.python",
    "airflow.providers.smtp.hooks.smtp",
    "airflow.providers.http.hooks.http",
    "airflow.providers.openai.hooks.openai",
)
# Printed by the child instead of a time when the module is not installed.
NOT_INSTALLED = "not-installed"

CHILD = f"""
import importlib, sys, time
import airflow.sdk
name = sys.argv[1]
start = time.perf_counter()
try:
    importlib.import_module(name)
except ModuleNotFoundError as exc:
    if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
        print("{NOT_INSTALLED}")
        sys.exit(0)
    raise
print(time.perf_counter() - start)
"""


def child_environment() -> dict[str, str]:
    """Airflow must not create ``~/airflow`` or load examples; warnings stay out of the output."""
    env = dict(os.environ)
    repo_root = Path(__file__).resolve().parent.parent
    env.setdefault("AIRFLOW_HOME", str(repo_root / "build" / "airflow-home"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("PYTHONWARNINGS", "ignore")
    # Measure what a DAG processor sees: bytecode cached, not compiled on every import.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def time_import(module: str, runs: int, env: dict[str, str]) -> list[float] | None:
    """Seconds each fresh interpreter took to import ``module``; None when it is not installed."""
    times = []
    for run in range(runs + 1):  # the first run only warms the bytecode cache
        result = subprocess.run(
            [sys.executable, "-c", CHILD, module], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"importing {module} failed:\n{result.stderr.strip()}")
        last_line = result.stdout.strip().splitlines()[-1]
        if last_line == NOT_INSTALLED:
            return None
        if run:
            times.append(float(last_line))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", default=[DEFAULT_MODULE], help=f"default: {DEFAULT_MODULE}")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per module (default 7)")
    parser.add_argument("--no-compare", action="store_true", help="skip the other providers' modules")
    args = parser.parse_args(argv)

    env = child_environment()
    modules = list(args.modules)
    if not args.no_compare:
        modules += [name for name in COMPARISONS if name not in modules]
    width = max(map(len, modules))
    version = ".".join(map(str, sys.version_info[:3]))
    print(
        f"Import time after `import airflow.sdk`: median of {args.runs} fresh interpreters (Python {version})"
    )
    for module in modules:
        times = time_import(module, args.runs, env)
        if times is None:
            if module in args.modules:
                raise SystemExit(f"{module} is not installed")
            print(f"  {module:<{width}}  {'not installed':>10}")
            continue
        median, low, high = (1000 * value for value in (statistics.median(times), min(times), max(times)))
        print(f"  {module:<{width}}  {median:7.1f} ms   (min {low:.1f}, max {high:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
