"""
What a request buys (a request class's ``unit_rule`` makes a :class:`Purchase`), and the STAND-IN
price of it: rules as data, no I/O. A price table maps ``{kind: {model: {tier: units}}}``, ``"*"``
for any model or tier. The stand-in prices are NOT an account's prices; every message that shows
an estimate made from them says so (:data:`STAND_IN_LABEL`):

images at the simulator's figures (Kling's own pages price Image 3.0 at 8 units an image, 16 at
4k); video at Kling's published prices per second (:data:`VIDEO_PRICES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_kling.kinds import RequestKind

#: Any model, or any tier, in a price table.
ANY = "*"
#: How every message names an estimate made from the stand-in prices.
STAND_IN_LABEL = "stand-in prices, not your account's"
#: Kling's defaults for an image request that leaves them out.
DEFAULT_RESOLUTION = "1k"
DEFAULT_N = 1
#: ``series_amount="auto"``: Kling decides how many images; its default series has 4.
AUTO_SERIES_ESTIMATE = 4
#: A video request without ``duration`` is 5 seconds at Kling.
DEFAULT_VIDEO_SECONDS = 5


@dataclass(frozen=True)
class Purchase:
    """What one request buys: ``quantity`` of (kind, model, tier), counted per image, second or task."""

    kind: str
    model: str
    tier: str
    quantity: float
    per: str = "image"

    @property
    def key(self) -> str:
        """``kind/model/tier``: the price key learnt rates and price tables share."""
        return f"{self.kind}/{self.model}/{self.tier}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        model = "" if self.model == ANY else f" {self.model}"
        tier = "" if self.tier == ANY else f" {self.tier}"
        return f"{self.kind}{model}{tier}, {self.quantity:g} {self.per}{'' if self.quantity == 1 else 's'}"


#: ``rule(kind, fields)``: what a request of ``kind`` with ``fields`` buys.
UnitRule = Callable[[str, Mapping[str, Any]], Purchase]
#: Stand-in prices of one kind: ``{model: {tier: units per image/second/task}}``.
Prices = Mapping[str, Mapping[str, float]]


def _count(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"n must be a whole number of images >= 1 (got {value!r})")
    return value


def image_rule(*, tier_field: str | None = "resolution") -> UnitRule:
    """Images priced by model and (when ``tier_field``) resolution; ``n`` of them (omni: its series)."""

    def rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
        count = _count(fields.get("n"), DEFAULT_N)
        if fields.get("result_type") == "series":
            amount = fields.get("series_amount")
            count = (
                amount if isinstance(amount, int) and not isinstance(amount, bool) else AUTO_SERIES_ESTIMATE
            )
        tier = (fields.get(tier_field) or DEFAULT_RESOLUTION) if tier_field else ANY
        return Purchase(kind, str(fields.get("model_name") or ANY), str(tier), count)

    return rule


def task_rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
    """One price per task, by model (virtual try-on makes one image a task)."""
    return Purchase(kind, str(fields.get("model_name") or ANY), ANY, 1, per="task")


def video_rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
    """Seconds of video priced by model and tier (``tier`` as the request gives it, else ``mode`` or
    ``resolution``), ``+audio`` when sound is on (``sound``, or ``audio`` other than ``"off"``)."""
    seconds = fields.get("duration", DEFAULT_VIDEO_SECONDS)
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"duration must be a number of seconds (got {seconds!r})") from None
    if not seconds > 0:
        raise ValueError(f"duration must be a number of seconds > 0 (got {seconds!r})")
    tier = str(fields.get("tier") or fields.get("mode") or fields.get("resolution") or "std")
    audio = fields.get("sound") in ("on", True) or fields.get("audio") not in (None, False, "off", "")
    model = fields.get("model_name") or fields.get("model") or ANY
    return Purchase(kind, str(model), f"{tier}+audio" if audio and tier != "4k" else tier, seconds, "second")


#: STAND-IN units per image of image generation, by model and resolution (the simulator's figures).
PRICE_TABLE: dict[str, dict[str, float]] = {
    "kling-v1": {"1k": 1.0},
    "kling-v1-5": {"1k": 2.0},
    "kling-v2": {"1k": 2.0, "2k": 4.0},
    "kling-v2-new": {"1k": 2.0, "2k": 4.0},
    "kling-v2-1": {"1k": 2.0, "2k": 4.0},
    "kling-v3": {"1k": 2.0, "2k": 4.0},
}
_V3 = {"std": 0.6, "pro": 0.8, "4k": 3.0, "std+audio": 0.9, "pro+audio": 1.2}
#: STAND-IN units per second of video by model and tier (``<tier>+audio`` only where sound costs
#: more: sound on kling-2.6 costing more is UNCONFIRMED). Kling's published prices, under the legacy
#: names too (``kling-v3`` for 3.0: Kling never states the mapping); models without a published
#: price at 2.5 Turbo's, the masters at 2 a second (the video simulator's figures).
VIDEO_PRICES: dict[str, dict[str, float]] = {
    ANY: {"std": 0.3, "pro": 0.5, "720p": 0.3, "1080p": 0.5},
    "kling-v2-master": {ANY: 2.0},
    "kling-v2-1-master": {ANY: 2.0},
    "kling-v3": _V3,
    "kling-3.0": {**_V3, "720p": 0.6, "1080p": 0.8, "720p+audio": 0.9, "1080p+audio": 1.2},
    "kling-3.0-turbo": {"std": 0.8, "720p": 0.8, "pro": 1.0, "1080p": 1.0},
    "kling-video-o1": {"std": 0.6, "pro": 0.8},
    "kling-v3-omni": {"std": 0.6, "pro": 0.8, "4k": 3.0},
}

#: STAND-IN prices of the image kinds without a per-model table.
OMNI_IMAGE_PRICES: Prices = {ANY: {"1k": 2.0, "2k": 4.0, "4k": 8.0}}
FLAT_IMAGE_PRICES: Prices = {ANY: {ANY: 2.0}}
TRY_ON_PRICES: Prices = {ANY: {ANY: 1.0}}


def price_in(table: Mapping[str, Prices], purchase: Purchase) -> float | None:
    """Units per image/second/task of ``purchase`` in ``table``: the exact model first, then ``*``;
    per model the exact tier, the silent one for ``<tier>+audio`` it lacks, then ``*``."""
    models = table.get(purchase.kind) or {}
    tiers_to_try = (purchase.tier, purchase.tier.removesuffix("+audio"), ANY)
    for model in (purchase.model, ANY):
        tiers = models.get(model)
        if not tiers:
            continue
        for tier in tiers_to_try:
            if tier in tiers:
                return float(tiers[tier])
    return None


def check_price_table(table: Any) -> dict[str, dict[str, dict[str, float]]]:
    """A user's ``price_table`` checked: ``{kind: {model: {tier: units >= 0}}}``, else ValueError."""
    kinds = [kind.value for kind in RequestKind]
    if not isinstance(table, Mapping):
        raise ValueError(
            f"price_table must be a mapping {{kind: {{model: {{tier: units}}}}}} (got {table!r})"
        )
    checked: dict[str, dict[str, dict[str, float]]] = {}
    for kind, models in table.items():
        if kind not in kinds:
            hint = (
                f"; for image generation write {{'{RequestKind.GENERATIONS}': {{{kind!r}: ...}}}}"
                if kind in PRICE_TABLE
                else ""
            )
            raise ValueError(f"price_table: {kind!r} is not a request kind (one of {', '.join(kinds)}){hint}")
        if not isinstance(models, Mapping):
            raise ValueError(f"price_table[{kind!r}] must map model names (or '*') to {{tier: units}}")
        for model, tiers in models.items():
            if not isinstance(tiers, Mapping):
                raise ValueError(f"price_table[{kind!r}][{model!r}] must map tiers (or '*') to units")
            for tier, units in tiers.items():
                if isinstance(units, bool) or not isinstance(units, int | float) or not units >= 0:
                    raise ValueError(
                        f"price_table[{kind!r}][{model!r}][{tier!r}] must be a number of units >= 0 "
                        f"(got {units!r})"
                    )
                checked.setdefault(str(kind), {}).setdefault(str(model), {})[str(tier)] = float(units)
    return checked
