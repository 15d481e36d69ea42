"""The requests of a batch: read from a list, a CSV or a JSONL text; validated; identified.

No Airflow and no HTTP here. Every item is validated before any HTTP call; an error names the
item (its number and key), the field and the rule. An item's identity is its ``key`` (given, or
its position in the list): with the task instance and the request's fingerprint it makes the
item's external task id, so a retry finds the item's Kling task and an edited item gets a new one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models import ImageGenerationRequest

#: Formats of a requests text (a rendered ``.csv`` / ``.jsonl`` / ``.txt`` file).
FORMATS = ("csv", "jsonl", "lines")
#: CSV columns read as numbers; every other column is text, and an empty cell means unset.
_INTEGER_FIELDS = frozenset({"n"})
_FLOAT_FIELDS = frozenset({"image_fidelity", "human_fidelity"})


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch: ``number`` is its position (0-based), ``key`` its identity."""

    number: int
    key: str
    request: ImageGenerationRequest

    @property
    def n(self) -> int:
        return self.request.n

    @property
    def label(self) -> str:
        return f"item {self.number} (key {self.key!r})"


def format_of(name: str) -> str | None:
    """The format a file name's extension says (``.csv``, ``.jsonl``/``.ndjson``, ``.txt``), else None."""
    lowered = name.strip().lower()
    for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".txt", "lines")):
        if lowered.endswith(suffix):
            return kind
    return None


def parse_requests_text(text: str, kind: str) -> list[Any]:
    """The rows of a rendered requests file: dicts (CSV, JSONL) or prompts (one per line)."""
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text.strip("\ufeff")))
        if not reader.fieldnames or "prompt" not in [name.strip() for name in reader.fieldnames]:
            raise KlingRequestValidationError("requests CSV: the header row must have a 'prompt' column")
        return [
            {k.strip(): v for k, v in row.items() if k is not None and v is not None and v.strip() != ""}
            for row in reader
        ]
    if kind == "jsonl":
        rows: list[Any] = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise KlingRequestValidationError(
                    f"requests JSONL line {line_number}: not valid JSON ({exc})"
                ) from None
        return rows
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    raise ValueError(f"requests_format must be one of {', '.join(FORMATS)} (got {kind!r})")


def _typed(field: str, value: Any, where: str) -> Any:
    """CSV cells are text: ``n`` and the fidelities become numbers, naming the cell when they are not."""
    if not isinstance(value, str):
        return value
    try:
        if field in _INTEGER_FIELDS:
            return int(value)
        if field in _FLOAT_FIELDS:
            return float(value)
    except ValueError:
        raise KlingRequestValidationError(f"{where}: {field} must be a number (got {value[:40]!r})") from None
    return value


def build_items(
    rows: Iterable[Any], defaults: Mapping[str, Any], *, slots: int, key_field: str = "key"
) -> list[BatchItem]:
    """
    Validate every row (a prompt, or a dict of request fields plus an optional ``key_field``
    that names the item) over ``defaults``; raise one :class:`KlingRequestValidationError`
    listing every bad item.
    """
    items: list[BatchItem] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows):
        if isinstance(row, str):
            row = {"prompt": row}
        if not isinstance(row, Mapping):
            problems.append(
                f"item {number}: must be a prompt or a dict of request fields (got {type(row).__name__})"
            )
            continue
        key = str(row.get(key_field, number)).strip()
        where = f"item {number} (key {key!r})"
        if not key:
            problems.append(f"item {number}: key must not be blank")
            continue
        if key in seen:
            problems.append(f"{where}: key must be unique (item {seen[key]} has it too)")
            continue
        seen[key] = number
        fields = {**defaults}
        try:
            fields.update(
                {name: _typed(name, value, where) for name, value in row.items() if name != key_field}
            )
            request = ImageGenerationRequest.build(**fields)
        except KlingRequestValidationError as exc:
            problems.append(f"{where}: {str(exc).removeprefix('Invalid Kling image request: ')}")
            continue
        except TypeError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if request.n > slots:
            problems.append(f"{where}: n={request.n} is more than slots={slots}: it could never be admitted")
            continue
        items.append(BatchItem(number=number, key=key, request=request))
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise KlingRequestValidationError(
            f"Invalid Kling batch: {len(problems)} of the requests are invalid: {shown}{more}"
        )
    if not items:
        raise KlingRequestValidationError("Invalid Kling batch: requests must hold at least one request")
    return items
