"""Check the built sdist and wheel: LICENSE inside both, and the metadata that PyPI and Airflow show.

    python .ci/check_dist.py dist      (after ``python -m build``; ``make dist`` does both)

Prints what it checked and exits 1 naming every problem.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

LICENSE_EXPRESSION = "Apache-2.0"
PROJECT_URLS = {"Homepage", "Documentation", "Source", "Changelog"}


def wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def sdist_files(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist) as archive:
        files = {}
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name.split("/", 1)[1]] = handle.read()
        return files


def problems_of(kind: str, files: dict[str, bytes], license_path: str, metadata_path: str) -> list[str]:
    problems = []
    license_text = files.get(license_path, b"").decode()
    if "Apache License" not in license_text or "Version 2.0, January 2004" not in license_text:
        problems.append(f"{kind}: no Apache-2.0 text at {license_path}")
    metadata = Parser().parsestr(files.get(metadata_path, b"").decode())
    if metadata.get("License-Expression") != LICENSE_EXPRESSION:
        problems.append(f"{kind}: License-Expression is {metadata.get('License-Expression')!r}")
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append(f"{kind}: License-File does not name LICENSE")
    urls = {entry.split(",", 1)[0].strip() for entry in metadata.get_all("Project-URL") or []}
    if missing := PROJECT_URLS - urls:
        problems.append(f"{kind}: Project-URL lacks {sorted(missing)}")
    if "Keep a Changelog" not in str(metadata.get_payload()):
        problems.append(f"{kind}: the long description lacks CHANGELOG.md")
    return problems


def main(dist: Path) -> int:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}", file=sys.stderr)
        return 1
    wheel, sdist = wheels[0], sdists[0]
    dist_info = wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"
    problems = problems_of(
        wheel.name, wheel_files(wheel), f"{dist_info}/licenses/LICENSE", f"{dist_info}/METADATA"
    )
    problems += problems_of(sdist.name, sdist_files(sdist), "LICENSE", "PKG-INFO")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if not problems:
        print(f"dist ok: {wheel.name} and {sdist.name} carry LICENSE ({LICENSE_EXPRESSION}), project URLs")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
