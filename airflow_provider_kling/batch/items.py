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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.requests import REQUEST_KINDS, KlingTaskRequest, request_class

#: Formats of a requests text (a rendered ``.csv`` / ``.jsonl`` / ``.txt`` file).
FORMATS = ("csv", "jsonl", "lines")
#: CSV columns read as numbers; every other column is text, and an empty cell means unset.
_INTEGER_FIELDS = frozenset({"n"})
_RATIOS = ("up_expansion_ratio", "down_expansion_ratio", "left_expansion_ratio", "right_expansion_ratio")
_FLOAT_FIELDS = frozenset({"image_fidelity", "human_fidelity", *_RATIOS})
#: Slots an omni series of ``series_amount="auto"`` is counted at: the most images Kling makes.
AUTO_SERIES_SLOTS = 9


def slots_of(request: KlingTaskRequest) -> int:
    """
    The Kling slots a task of ``request`` holds while it runs (Kling's concurrency rules): an
    image task one per image it makes (``n``; an omni series its ``series_amount``, ``auto``
    counted at :data:`AUTO_SERIES_SLOTS`), a kind that sets ``task_slots`` that many (a video
    task holds 1 at any length), a task that makes one image (virtual try-on) 1.
    """
    fixed = getattr(request, "task_slots", None)
    if fixed is not None:
        return int(fixed)
    made = getattr(request, "images_made", getattr(request, "n", 1))
    return AUTO_SERIES_SLOTS if made is None else int(made)


def _request_class(kind: str) -> type[KlingTaskRequest]:
    try:
        return request_class(kind)
    except ValueError:
        raise KlingRequestValidationError(
            f"request_kind must be one of {', '.join(REQUEST_KINDS)} (got {kind!r})"
        ) from None


def first_required_field(kind: str) -> str:
    """The field every request of ``kind`` must have (``prompt`` for image generation)."""
    fields = _request_class(kind).model_fields
    if "prompt" in fields:
        return "prompt"
    return next(name for name, info in fields.items() if info.is_required())


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch: ``number`` is its position (0-based), ``key`` its identity."""

    number: int
    key: str
    request: KlingTaskRequest

    @property
    def n(self) -> int:
        """The Kling slots its task holds (:func:`slots_of`)."""
        return slots_of(self.request)

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


def parse_requests_text(text: str, kind: str, required: str = "prompt") -> list[Any]:
    """The rows of a rendered requests file: dicts (CSV, JSONL) or prompts (one per line).

    :param required: The column a CSV must have (the request kind's :func:`first_required_field`).
    """
    return list(iter_rows(io.StringIO(text.strip("\ufeff")), kind, required))


def iter_rows(lines: Iterable[str], kind: str, required: str = "prompt") -> Iterator[Any]:
    """The rows of a requests file read line by line (a file object, or a text's lines), as
    :func:`parse_requests_text` reads them: a file of any size holds one row at a time."""
    if kind == "csv":
        reader = csv.DictReader(line.lstrip("\ufeff") if n == 0 else line for n, line in enumerate(lines))
        if not reader.fieldnames or required not in [name.strip() for name in reader.fieldnames]:
            raise KlingRequestValidationError(f"requests CSV: the header row must have a {required!r} column")
        for row in reader:
            yield {
                k.strip(): v for k, v in row.items() if k is not None and v is not None and v.strip() != ""
            }
    elif kind == "jsonl":
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise KlingRequestValidationError(
                    f"requests JSONL line {line_number}: not valid JSON ({exc})"
                ) from None
    elif kind == "lines":
        yield from (line.strip() for line in lines if line.strip())
    else:
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


def build_items(rows: Iterable[Any], defaults: Mapping[str, Any], **options: Any) -> list[BatchItem]:
    """Every item of :func:`iter_items` (the same arguments), as a list."""
    return list(iter_items(rows, defaults, **options))


def iter_items(
    rows: Iterable[Any],
    defaults: Mapping[str, Any],
    *,
    slots: int,
    key_field: str = "key",
    request_kind: str = RequestKind.GENERATIONS.value,
    read_images: Callable[[dict[str, Any], tuple[str, ...]], dict[str, Any]] | None = None,
) -> Iterator[BatchItem]:
    """
    Validate every row (a prompt, or a dict of ``request_kind``'s request fields plus an optional
    ``key_field`` that names the item) over ``defaults`` (fields of that kind); raise one
    :class:`KlingRequestValidationError` listing every bad item, once every row has been read (the
    valid items are yielded as they come: read them all before acting on one).

    :param read_images: Reads the images an item names in storage (``image_inputs``), given its
        fields and the kind's image fields; the caller's I/O, none here.
    """
    request_cls = _request_class(request_kind)
    if unknown := sorted(set(defaults) - set(request_cls.model_fields)):
        raise KlingRequestValidationError(
            f"{', '.join(unknown)}: a {request_kind} request has no such field (give "
            f"only fields of that kind as the batch's defaults)"
        )
    takes_prompt = "prompt" in request_cls.model_fields
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows):
        if isinstance(row, str) and takes_prompt:
            row = {"prompt": row}
        if not isinstance(row, Mapping):
            what = "a prompt or a dict" if takes_prompt else "a dict"
            problems.append(
                f"item {number}: must be {what} of {request_kind} request fields (got {type(row).__name__})"
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
            if read_images is not None:
                fields = read_images(fields, request_cls.image_fields)
            request = request_cls.build(**fields)
        except KlingRequestValidationError as exc:
            message = str(exc)
            if message.startswith("Invalid Kling ") and " request: " in message:
                message = message.split(" request: ", 1)[1]
            problems.append(f"{where}: {message}")
            continue
        except TypeError as exc:
            problems.append(f"{where}: {exc}")
            continue
        item = BatchItem(number=number, key=key, request=request)
        if item.n > slots:
            held = "n" if getattr(request, "n", None) == item.n else "slots held"
            problems.append(
                f"{where}: {held}={item.n} is more than slots={slots}: it could never be admitted"
            )
            continue
        yield item
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise KlingRequestValidationError(
            f"Invalid Kling batch: {len(problems)} of the requests are invalid: {shown}{more}"
        )
    if not seen:
        raise KlingRequestValidationError("Invalid Kling batch: requests must hold at least one request")
