"""The simulator's result images: valid PNGs sized by resolution and aspect ratio, served without auth."""

from __future__ import annotations

import struct
import time
import zlib

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator, make_png, png
from airflow_provider_kling.testing.png import image_size


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and decompressed scanlines; asserts the signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1][0] == b"IEND"
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, color_type) == (8, 2)
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + width * 3)
    return width, height, pixels


@pytest.mark.parametrize(
    ("resolution", "aspect_ratio", "size"),
    [
        (None, None, (256, 144)),
        ("1k", "1:1", (256, 256)),
        ("2k", "16:9", (512, 288)),
        ("2k", "9:16", (288, 512)),
        ("1k", "21:9", (256, 110)),
        ("1k", "2:3", (171, 256)),
    ],
)
def test_image_size_follows_resolution_and_aspect_ratio(
    resolution: str | None, aspect_ratio: str | None, size: tuple[int, int]
) -> None:
    assert image_size(resolution, aspect_ratio) == size


def test_png_is_valid_with_the_requested_size() -> None:
    width, height, pixels = read_png(make_png("a red fox", 0, 171, 256))

    assert (width, height) == (171, 256)
    assert all(pixels[row * (1 + width * 3)] == 0 for row in range(height))  # filter byte per row


def test_different_prompts_give_different_pixels_and_the_same_prompt_the_same() -> None:
    fox = read_png(make_png("a red fox", 0, 64, 64))[2]

    assert fox == read_png(make_png("a red fox", 0, 64, 64))[2]
    assert fox != read_png(make_png("a blue whale", 0, 64, 64))[2]
    assert fox != read_png(make_png("a red fox", 1, 64, 64))[2]


def _images(simulator: KlingSimulator, **fields: object) -> list[str]:
    headers = {"Authorization": "Bearer test-key"}
    url = f"{simulator.base_url}/v1/images/generations"
    body = {"model_name": "kling-v2", "prompt": "a harbour", "n": 2, **fields}
    task_id = httpx.post(url, json=body, headers=headers).json()["data"]["task_id"]
    task = httpx.get(f"{url}/{task_id}", headers=headers).json()["data"]
    return [image["url"] for image in task["task_result"]["images"]]


def test_served_images_are_pngs_matching_the_aspect_ratio(kling_simulator: KlingSimulator) -> None:
    urls = _images(kling_simulator, resolution="2k", aspect_ratio="3:4")

    bodies = []
    for url in urls:
        assert url.startswith(kling_simulator.base_url)
        response = httpx.get(url)  # no Authorization: like Kling's CDN
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        width, height, pixels = read_png(response.content)
        assert (width, height) == (384, 512)
        bodies.append(pixels)
    assert bodies[0] != bodies[1]
    assert kling_simulator.counters("test-key")["images"] == 2


def test_images_expire_after_the_image_ttl(kling_simulator: KlingSimulator) -> None:
    kling_simulator.set_image_ttl(0.2)
    url = _images(kling_simulator)[0]
    deadline = time.monotonic() + 120

    while httpx.get(url).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert httpx.get(url).status_code == 404


def test_unknown_image_is_404(kling_simulator: KlingSimulator) -> None:
    url = _images(kling_simulator)[0]

    assert httpx.get(url.replace("/1.png", "/7.png").replace("/0.png", "/7.png")).status_code == 404
    assert httpx.get(f"{kling_simulator.base_url}/images/123/0.png").status_code == 404


def test_an_image_shows_its_subject_on_a_card_and_the_details_on_a_band_in_a_bitmap_font() -> None:
    width, height, raw = read_png(make_png("hi there, on a hill", 0, 256, 144))
    rows = [raw[y * (1 + width * 3) + 1 : (y + 1) * (1 + width * 3)] for y in range(height)]
    scale, top = 2, 144 // 10  # the subject twice the font's size, a tenth of the way down
    left = (width - (8 * 6 * scale - scale)) // 2  # "HI THERE" centred

    def pixel(char_position: int, column: int, row: int) -> bytes:
        x, y = left + (char_position * 6 + column) * scale, top + scale + row * scale
        return bytes(rows[y][x * 3 : x * 3 + 3])

    ink, card = bytes(png.INK), bytes(png.CARD)
    # "H": its first row inks columns 0 and 4; its middle row (the bar) all five.
    assert [pixel(0, column, 0) == ink for column in range(5)] == [True, False, False, False, True]
    assert all(pixel(0, column, 3) == ink for column in range(5))
    # "I": a centred stem; the space after the word is the card's.
    assert [pixel(1, column, 2) == ink for column in range(5)] == [False, False, True, False, False]
    assert {pixel(2, column, row) for column in range(5) for row in range(7)} == {card}
    # The details, "ON A HILL", in small light letters on a dark band along the bottom.
    band = b"".join(rows[height - 9 : height])
    assert bytes(png.PAPER) in band and bytes(png.BAND) in band
    assert not any(bytes(png.PAPER) in rows[y] for y in range(height // 2, height - 10))


def test_the_watermarked_copy_differs_and_images_stay_small() -> None:
    prompt = (
        "A brass desk lamp on an oak table, soft morning light, studio product photo, catalogue of 2025-01-01"
    )
    plain = make_png(prompt, 0, 256, 256)

    assert read_png(make_png(prompt + "\x00watermark", 0, 256, 256))[2] != read_png(plain)[2]
    assert len(plain) < 6000 and len(make_png(prompt, 0, 512, 288)) < 8000
