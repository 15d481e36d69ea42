"""Check the built sdist and wheel: LICENSE inside both, the metadata that PyPI and Airflow show, and
that the sdist carries what the README's quick start needs (``make demo``, ``make test``, ``make docs``).

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
#: What ``make demo``, ``make test`` and ``make docs`` read from an unpacked sdist (MANIFEST.in).
QUICK_START_FILES = (
    "Makefile",
    "pyproject.toml",
    "scripts/demo.py",
    "dags_examples/kling_scheduled_batch.py",
    "dags_examples/kling_scheduled_batch_operator.py",
    "dags_examples/prompts/catalogue.csv",
    "constraints/airflow-3.3-py3.11.txt",
    "constraints/airflow-3.1-py3.11.txt",
    "tests/conftest.py",
    "docs/conf.py",
    "docs/index.rst",
    ".ci/check_dist.py",
)
#: Folders whose every tracked file of these kinds the sdist must carry (a new example or test included).
QUICK_START_FOLDERS = {
    "dags_examples": (".py", ".csv"),
    "constraints": (".txt",),
    "tests": (".py",),
    "docs": (".py", ".rst"),
    "scripts": (".py",),
}


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


def quick_start_problems(kind: str, files: dict[str, bytes], root: Path) -> list[str]:
    """Files the README's quick start needs that the sdist lacks."""
    wanted = set(QUICK_START_FILES)
    for folder, suffixes in QUICK_START_FOLDERS.items():
        wanted |= {
            path.relative_to(root).as_posix()
            for path in (root / folder).rglob("*")
            if path.is_file() and path.suffix in suffixes and "__pycache__" not in path.parts
        }
    return [f"{kind}: lacks {name} (add it to MANIFEST.in)" for name in sorted(wanted - set(files))]


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
    sdist_contents = sdist_files(sdist)
    problems += problems_of(sdist.name, sdist_contents, "LICENSE", "PKG-INFO")
    problems += quick_start_problems(sdist.name, sdist_contents, Path(__file__).resolve().parents[1])
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"dist ok: {wheel.name} and {sdist.name} carry LICENSE ({LICENSE_EXPRESSION}), project URLs; "
            f"{sdist.name} carries the quick start's Makefile, scripts, examples, tests, docs and constraints"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
