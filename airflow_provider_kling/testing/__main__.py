"""Serve the Kling simulator: ``python -m airflow_provider_kling.testing --port 8765 --latency 3``.

Prints the ``AIRFLOW_CONN_KLING_DEFAULT`` line to use, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from airflow_provider_kling.testing.accounts import DEFAULT_PACK_UNITS
from airflow_provider_kling.testing.server import KlingSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_kling.testing",
        description="A Kling-compatible image and video API for tests and demos (no network, no account).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the /_sim control routes have no authentication)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key", default="test-key", help="the Bearer key accepted (default: %(default)s)"
    )
    parser.add_argument("--extra-key", action="append", default=[], help="another accepted key (repeatable)")
    parser.add_argument(
        "--jwt-key",
        action="append",
        default=[],
        metavar="ACCESS:SECRET",
        help="an access/secret key pair for JWTs",
    )
    parser.add_argument(
        "--latency", type=float, default=3.0, help="seconds a task takes (default: %(default)s)"
    )
    parser.add_argument("--slots", type=int, default=8, help="slot budget per account (default: %(default)s)")
    parser.add_argument(
        "--pack-units",
        type=float,
        default=DEFAULT_PACK_UNITS,
        help="units in the resource pack each account starts with (default: %(default)g)",
    )
    parser.add_argument(
        "--progress",
        choices=("timed", "immediate", "manual"),
        default="timed",
        help="how tasks move: after --latency, at once, or when advanced (default: %(default)s)",
    )
    parser.add_argument(
        "--fail-marker", default="#fail", help="prompts containing it fail (default: %(default)s)"
    )
    parser.add_argument(
        "--image-ttl", type=float, default=None, help="seconds images stay available (default: forever)"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every API answer")
    parser.add_argument("--webhook-secret", default=None, help="sign callbacks with this whsec_ secret")
    parser.add_argument("--ready-file", type=Path, default=None, help="write the base URL here once serving")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default: %(default)s)")
    return parser


def _jwt_keys(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    keys = {}
    for pair in pairs:
        access_key, sep, secret_key = pair.partition(":")
        if not sep or not access_key or not secret_key:
            parser.error("--jwt-key takes ACCESS:SECRET")
        keys[access_key] = secret_key
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        simulator = KlingSimulator(
            api_key=args.api_key,
            extra_keys=args.extra_key,
            jwt_keys=_jwt_keys(args.jwt_key, parser),
            latency=args.latency,
            slots=args.slots,
            fail_marker=args.fail_marker,
            image_ttl=args.image_ttl,
            webhook_secret=args.webhook_secret,
            delay=args.delay,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            allow_remote=args.allow_remote,
            pack_units=args.pack_units,
            progress=args.progress,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        simulator.start()
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Kling simulator serving on {simulator.root_url} (port {simulator.port}); Ctrl-C stops it.")
    print(f"AIRFLOW_CONN_KLING_DEFAULT='{simulator.airflow_conn_json()}'", flush=True)
    if args.ready_file is not None:
        partial = args.ready_file.with_name(args.ready_file.name + ".partial")
        partial.write_text(simulator.base_url + "\n")
        os.replace(partial, args.ready_file)  # readers never see a half-written file
    while not stop.wait(0.5):
        pass
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
