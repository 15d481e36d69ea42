"""Fold the changelog fragments of merged branches (``changes/<branch>.md``) into CHANGELOG.md.

A fragment holds Keep a Changelog headings (``### Added``, ``### Changed``, ``### Removed``,
``### Fixed`` ...) with bullets under them. Each bullet goes under the same heading of the chosen
release section (``[Unreleased]`` by default), after the bullets already there; a heading the
section lacks is added in Keep a Changelog's order. The fragments folded are deleted; docs
fragments (``changes/<branch>-docs.md``) are left for the docs pages.

    python scripts/fold_changes.py                       # into [Unreleased]
    python scripts/fold_changes.py --section 0.1.0 --only Added   # the first release: new things only
    python scripts/fold_changes.py --dry-run             # print the result, change nothing

``--only`` keeps the named headings and prints what it leaves out, for a first release whose
"Changed" entries describe code nobody outside ever ran.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def fragment_entries(text: str) -> dict[str, list[str]]:
    """A fragment's bullets (each with its continuation lines) by heading."""
    entries: dict[str, list[str]] = {}
    heading: str | None = None
    for line in text.splitlines():
        match = re.match(r"^#{2,3}\s+(\w+)\s*$", line)
        if match:
            heading = match.group(1).capitalize()
            continue
        if heading is None or not line.strip():
            continue
        if line.startswith("- "):
            entries.setdefault(heading, []).append(line)
        elif entries.get(heading):
            entries[heading][-1] += "\n" + line
    return entries


def fold(changelog: str, section: str, entries: dict[str, list[str]]) -> str:
    """``changelog`` with ``entries`` added under the headings of ``## [section]``."""
    # The link references at the end ("[0.1.0]: https://...") stay at the end.
    links = re.search(r"(\n\[[^\]]+\]: \S+)+\s*$", changelog)
    tail = links.group(0).strip("\n") + "\n" if links else ""
    changelog = changelog[: links.start()] if links else changelog
    start = re.search(rf"^## \[{re.escape(section)}\].*$", changelog, re.MULTILINE)
    if start is None:
        raise SystemExit(f"CHANGELOG.md has no '## [{section}]' section")
    following = re.search(r"^## \[", changelog[start.end() :], re.MULTILINE)
    end = start.end() + following.start() if following else len(changelog)
    body = changelog[start.end() : end]
    # The section's text before its first heading (a summary line), then its headings in order.
    parts = re.split(r"^### (\w+)\s*$", body, flags=re.MULTILINE)
    preamble = parts[0].strip("\n")
    blocks = {name: text.strip("\n") for name, text in zip(parts[1::2], parts[2::2], strict=True)}
    for heading, bullets in entries.items():
        blocks[heading] = "\n".join(filter(None, [blocks.get(heading, ""), *bullets]))
    ordered = sorted(blocks, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))
    text = "\n\n" + (preamble + "\n\n" if preamble else "")
    text += "".join(f"### {heading}\n\n{blocks[heading]}\n\n" for heading in ordered)
    rest = changelog[end:].strip("\n")
    return changelog[: start.end()] + text + (rest + "\n\n" if rest else "") + tail


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", default="Unreleased", help="release section to fold into")
    parser.add_argument("--only", nargs="*", help="headings to keep (e.g. Added)")
    parser.add_argument("--dry-run", action="store_true", help="print the new CHANGELOG.md only")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    fragments = sorted(p for p in (args.root / "changes").glob("*.md") if not p.stem.endswith("-docs"))
    if not fragments:
        print("no fragments in changes/")
        return 0
    entries: dict[str, list[str]] = {}
    for fragment in fragments:
        for heading, bullets in fragment_entries(fragment.read_text(encoding="utf-8")).items():
            if args.only and heading not in args.only:
                print(f"left out ({fragment.name}, {heading}):\n" + "\n".join(bullets), file=sys.stderr)
                continue
            entries.setdefault(heading, []).extend(bullets)
    changelog_path = args.root / "CHANGELOG.md"
    folded = fold(changelog_path.read_text(encoding="utf-8"), args.section, entries)
    if args.dry_run:
        print(folded, end="")
        return 0
    changelog_path.write_text(folded, encoding="utf-8")
    for fragment in fragments:
        fragment.unlink()
    print(f"folded {', '.join(p.name for p in fragments)} into [{args.section}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
