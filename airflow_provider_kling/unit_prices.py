"""
What a request buys, per request kind, and the STAND-IN price of it: rules as data, no I/O.

Each request kind has a *unit rule*: a function from the request's fields (Kling's defaults filled
in) to a :class:`Purchase`, the priced thing (kind, model, tier) and how many of it (images,
seconds of video, tasks). A price table maps ``{kind: {model: {tier: units per image/second/task}}}``;
``"*"`` stands for any model or any tier. A new kind plugs in with :func:`register_kind`: its rule
and, if known, its stand-in prices. :mod:`airflow_provider_kling.spend` turns a purchase into units
(learnt from the account's finished tasks, else the user's price table, else these stand-ins).

The stand-in prices are NOT an account's prices; every message that shows an estimate made from
them says so (:data:`STAND_IN_LABEL`):

- images: the simulator's figures (``testing/rules.py``, ``testing/endpoints.py``), so estimates
  against the simulator are exact. Kling's own pages price Image 3.0 at 8 units an image (16 at 4k);
  resellers price in their own currency.
- video: Kling's published prices per second (kling-3.0-turbo 0.8 std/720p, 1.0 pro/1080p;
  kling-3.0 0.6/0.8, with audio 0.9/1.2, 4k 3.0; kling-2.6 and kling-2.5-turbo 0.3/0.5), under the
  legacy names too (``kling-v3`` for 3.0: Kling never states the mapping); the models without a
  published price at 2.5 Turbo's, the masters at 2 a second (the video simulator's figures). Sound on
  kling-2.6 costing more is UNCONFIRMED: the silent price is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.defaults import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_MULTI_IMAGE_MODEL,
    DEFAULT_OMNI_IMAGE_MODEL,
    DEFAULT_TRY_ON_MODEL,
)

#: Any model, or any tier, in a price table.
ANY = "*"
#: How every message names an estimate made from the stand-in prices.
STAND_IN_LABEL = "stand-in prices, not your account's"
#: Kling's defaults for an image generation request that leaves them out.
DEFAULT_MODEL = DEFAULT_IMAGE_MODEL
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
        return {
            "kind": self.kind,
            "model": self.model,
            "tier": self.tier,
            "quantity": self.quantity,
            "per": self.per,
        }

    def describe(self) -> str:
        model = "" if self.model == ANY else f" {self.model}"
        tier = "" if self.tier == ANY else f" {self.tier}"
        return f"{self.kind}{model}{tier}, {self.quantity:g} {self.per}{'' if self.quantity == 1 else 's'}"


UnitRule = Callable[[Mapping[str, Any]], Purchase]


def _count(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"n must be a whole number of images >= 1 (got {value!r})")
    return value


def image_rule(kind: str, *, default_model: str = ANY, tier_field: str | None = "resolution") -> UnitRule:
    """Images priced by model and (when ``tier_field``) resolution; ``n`` of them (omni: its series)."""

    def rule(fields: Mapping[str, Any]) -> Purchase:
        count = _count(fields.get("n"), DEFAULT_N)
        if fields.get("result_type") == "series":
            amount = fields.get("series_amount")
            count = (
                amount if isinstance(amount, int) and not isinstance(amount, bool) else AUTO_SERIES_ESTIMATE
            )
        tier = (fields.get(tier_field) or DEFAULT_RESOLUTION) if tier_field else ANY
        return Purchase(kind, str(fields.get("model_name") or default_model), str(tier), count)

    return rule


def task_rule(kind: str, *, default_model: str = ANY) -> UnitRule:
    """One price per task, by model (virtual try-on makes one image a task)."""

    def rule(fields: Mapping[str, Any]) -> Purchase:
        return Purchase(kind, str(fields.get("model_name") or default_model), ANY, 1, per="task")

    return rule


def video_rule(kind: str, *, default_model: str = ANY) -> UnitRule:
    """Seconds of video priced by model and tier: ``mode`` (std/pro) or ``resolution`` (720p/1080p/4k),
    ``+audio`` when sound is on (``sound="on"`` legacy, ``audio`` other than ``"off"`` new-style)."""

    def rule(fields: Mapping[str, Any]) -> Purchase:
        seconds = fields.get("duration", DEFAULT_VIDEO_SECONDS)
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise ValueError(f"duration must be a number of seconds (got {seconds!r})") from None
        if not seconds > 0:
            raise ValueError(f"duration must be a number of seconds > 0 (got {seconds!r})")
        tier = str(fields.get("resolution") or fields.get("mode") or "std")
        audio = fields.get("sound") in ("on", True) or fields.get("audio") not in (None, False, "off", "")
        model = fields.get("model_name") or fields.get("model") or default_model
        return Purchase(
            kind, str(model), f"{tier}+audio" if audio and tier != "4k" else tier, seconds, "second"
        )

    return rule


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
#: more; elsewhere the silent price applies): Kling's published prices where it has them, the legacy
#: models without one at 2.5 Turbo's (the video simulator's figures).
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

#: Every kind's unit rule (a new kind: :func:`register_kind`).
UNIT_RULES: dict[str, UnitRule] = {
    "generations": image_rule("generations", default_model=DEFAULT_MODEL),
    "omni-image": image_rule("omni-image", default_model=DEFAULT_OMNI_IMAGE_MODEL),
    "multi-image2image": image_rule(
        "multi-image2image", default_model=DEFAULT_MULTI_IMAGE_MODEL, tier_field=None
    ),
    "expand": image_rule("expand", tier_field=None),
    "virtual-try-on": task_rule("virtual-try-on", default_model=DEFAULT_TRY_ON_MODEL),
}
#: STAND-IN prices by kind: ``{kind: {model: {tier: units per image/second/task}}}``.
STAND_IN_PRICES: dict[str, Mapping[str, Mapping[str, float]]] = {
    "generations": PRICE_TABLE,
    "omni-image": {ANY: {"1k": 2.0, "2k": 4.0, "4k": 8.0}},
    "multi-image2image": {ANY: {ANY: 2.0}},
    "expand": {ANY: {ANY: 2.0}},
    "virtual-try-on": {ANY: {ANY: 1.0}},
}


def register_kind(
    kind: str, rule: UnitRule, stand_in: Mapping[str, Mapping[str, float]] | None = None
) -> None:
    """Plug a request kind in: its unit rule and, when known, its stand-in prices (by model and tier)."""
    UNIT_RULES[kind] = rule
    if stand_in is not None:
        STAND_IN_PRICES[kind] = stand_in


#: The video kinds: legacy ``/v1/videos/*``, and the new-style paths (``models.new_style``).
_VIDEO_KINDS = ("text2video", "image2video", "omni-video", "multi-image2video", "video-extend")
for _kind in (*_VIDEO_KINDS, "new-text-to-video", "new-image-to-video", "new-omni-video"):
    register_kind(_kind, video_rule(_kind), VIDEO_PRICES)


def price_in(table: Mapping[str, Mapping[str, Mapping[str, float]]], purchase: Purchase) -> float | None:
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
    if not isinstance(table, Mapping):
        raise ValueError(
            f"price_table must be a mapping {{kind: {{model: {{tier: units}}}}}} (got {table!r})"
        )
    checked: dict[str, dict[str, dict[str, float]]] = {}
    for kind, models in table.items():
        if kind not in UNIT_RULES:
            hint = (
                f"; for image generation write {{'generations': {{{kind!r}: ...}}}}"
                if kind in PRICE_TABLE
                else ""
            )
            raise ValueError(
                f"price_table: {kind!r} is not a request kind (one of {', '.join(UNIT_RULES)}){hint}"
            )
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
