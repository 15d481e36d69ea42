"""What an image read from your storage costs a task: time and peak memory to read, check and
base64 it, to validate the request and fingerprint it, per file size up to Kling's 10 MB.

The files are PNGs with a valid header and incompressible data (a worst case for size). Prints a
table; asserts nothing.

    .venv/bin/python benchmarks/image_inputs.py [sizes in MB, default 1 5 9.9]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import zlib

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kling-bench-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

RUNS = 5


def big_png(size_bytes: int) -> bytes:
    """A 2000x1500 PNG header followed by random IDAT bytes, ``size_bytes`` long in all."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 2000, 1500, 8, 2, 0, 0, 0))
    head = b"\x89PNG\r\n\x1a\n" + header
    tail = chunk(b"IEND", b"")
    payload = os.urandom(max(0, size_bytes - len(head) - len(tail) - 12))
    return head + chunk(b"IDAT", payload) + tail


def measure(path: str) -> tuple[float, float, float, int]:
    from airflow_provider_kling.idempotency import request_fingerprint
    from airflow_provider_kling.image_inputs import read_image_fields
    from airflow_provider_kling.models.requests import ExpandImageRequest

    read_ms, build_ms, peaks = [], [], []
    body_size = 0
    read_image_fields({"image": f"file://{path}"}, ExpandImageRequest.image_fields, None)  # warm-up: imports
    for _ in range(RUNS):
        tracemalloc.start()
        started = time.perf_counter()
        fields = read_image_fields(
            {"image": f"file://{path}", "up_expansion_ratio": 0.5}, ExpandImageRequest.image_fields, None
        )
        read_done = time.perf_counter()
        request = ExpandImageRequest.build(**fields)
        request_fingerprint(request)
        body_size = len(str(request.to_json()))
        build_done = time.perf_counter()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        read_ms.append((read_done - started) * 1000)
        build_ms.append((build_done - read_done) * 1000)
    return statistics.median(read_ms), statistics.median(build_ms), max(peaks) / 2**20, body_size


def main() -> None:
    sizes = [float(arg) for arg in sys.argv[1:]] or [1.0, 5.0, 9.9]
    print(
        f"{'file MB':>8} {'read+check+b64 ms':>18} {'validate+fingerprint ms':>24} "
        f"{'peak MiB':>9} {'body MB':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = os.path.join(folder, f"{size}.png")
            with open(path, "wb") as handle:
                handle.write(big_png(int(size * 1024 * 1024)))
            read_ms, build_ms, peak, body = measure(path)
            print(f"{size:>8.1f} {read_ms:>18.1f} {build_ms:>24.1f} {peak:>9.1f} {body / 2**20:>8.1f}")
    print(f"(median of {RUNS} runs; peak: tracemalloc, Python allocations during one read and build)")


if __name__ == "__main__":
    main()
