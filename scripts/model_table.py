"""Rewrite the README's model table from the capability table in ``airflow_provider_kling.models``.

``python scripts/model_table.py`` updates README.md in place; ``--check`` only says whether it is
up to date (exit 1 when not); ``--print`` writes the tables to stdout. The tables say what each image
and omni-image model accepts, where it is served (Kling's own hosts, the reseller) and since/until
when, its successor, and which model is the default. ``tests/unit/test_model_capabilities.py`` fails
while they differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from airflow_provider_kling.models import render_model_table

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = re.compile(r"(<!-- model-table:start -->\n)(.*?)(<!-- model-table:end -->)", re.DOTALL)


def main(argv: list[str]) -> int:
    if "--print" in argv:
        print(render_model_table(), end="")
        return 0
    text = README.read_text(encoding="utf-8")
    if SECTION.search(text) is None:
        print(
            "README.md has no <!-- model-table:start --> ... <!-- model-table:end --> section",
            file=sys.stderr,
        )
        return 2
    updated = SECTION.sub(lambda match: match.group(1) + render_model_table() + match.group(3), text)
    if updated == text:
        print("README.md model table is up to date")
        return 0
    if "--check" in argv:
        print("README.md model table differs from models.capabilities; run scripts/model_table.py")
        return 1
    README.write_text(updated, encoding="utf-8")
    print("README.md model table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
