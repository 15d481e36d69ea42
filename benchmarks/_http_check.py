"""The response check of the HTTP provider's trigger in ``triggerer_scale.py``: has the Kling task ended?"""

from __future__ import annotations

import json
from typing import Any


async def task_ended(response: Any) -> bool:
    return json.loads(response.text)["data"]["task_status"] in ("succeed", "failed")
