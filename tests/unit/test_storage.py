"""storage.py: safe deterministic names, streamed writes, nothing half-written."""

from __future__ import annotations

import pytest

from airflow_provider_kling.storage import find_stored, image_stem, safe_name, store_image, to_storage_path

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("scheduled__2026-11-25T00:00:00+00:00", "scheduled__2026-11-25T00_00_00_00_00"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "_"),
        ("a b/c\\d", "a_b_c_d"),
    ],
)
def test_safe_name_keeps_only_safe_characters(raw, safe):
    assert safe_name(raw) == safe


def test_image_stem_layout_with_and_without_map_index():
    assert image_stem("dag", "run", "gen", None, 0) == "dag/run/gen_0"
    assert image_stem("dag", "run", "gen", -1, 3) == "dag/run/gen_3"
    assert image_stem("dag", "run", "gen", 4, 1) == "dag/run/gen_4_1"


def test_store_image_names_extension_from_bytes_and_finds_it_again(tmp_path):
    base = to_storage_path(str(tmp_path))
    png = store_image(base, "d/r/t_0", [PNG[:5], PNG[5:]])
    jpg = store_image(base, "d/r/t_1", [JPEG])

    assert png.name == "t_0.png" and (tmp_path / "d/r/t_0.png").read_bytes() == PNG
    assert jpg.name == "t_1.jpg"
    assert find_stored(base, "d/r/t_0") == png
    assert find_stored(base, "d/r/t_9") is None


def test_failed_stream_leaves_no_partial_file(tmp_path):
    base = to_storage_path(str(tmp_path))

    def broken():
        yield PNG[:8]
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store_image(base, "d/r/t_0", broken())
    assert not list(tmp_path.rglob("t_0*"))


def test_empty_image_is_refused(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        store_image(to_storage_path(str(tmp_path)), "d/r/t_0", [b""])


def test_relative_local_path_becomes_absolute_file_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = to_storage_path("out")
    assert path.protocol == "file"
    assert str(path) == f"file://{tmp_path}/out"
