"""What each install brings: the distributions a set of requirements pulls in (their dependency
closure, read from the installed metadata of this environment) and their size on disk.

`python -m bench.footprint` writes bench/results/footprint.{json,md}: the scoring-only install
(`pip install sentiscore`) beside the full one (`sentiscore[train]`) and the optional extras. The
scoring-only install test builds its environment from `closure` too, so the table and the tested
environment are the same set of packages.
"""

from __future__ import annotations

import argparse
import json
import platform
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def requirements(extra: str | None = None) -> list[str]:
    """pyproject.toml's requirements: the plain install's, or one extra's."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] if extra is None else project["optional-dependencies"][extra]


def closure(wanted: list[str]) -> list[metadata.Distribution]:
    """Every installed distribution WANTED needs, transitively (markers evaluated for this machine, no
    extras but those a requirement names)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), "") for r in wanted]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = metadata.distribution(name)  # PackageNotFoundError: this environment lacks a requirement
        extras = sorted(requirement.extras)
        key = name + "[" + ",".join(extras) + "]"
        if key in found:
            continue
        found[key] = dist
        todo += [(Requirement(r), e) for r in dist.requires or [] for e in ("", *extras)]
    unique = {canonicalize_name(d.metadata["Name"]): d for d in found.values()}
    return sorted(unique.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def top_level(dist: metadata.Distribution) -> set[Path]:
    """The entries a distribution puts in site-packages (packages, modules, .libs, its .dist-info)."""
    root = Path(dist.locate_file(""))
    return {root / Path(f).parts[0] for f in dist.files or [] if not Path(f).parts[0].startswith("..")}


def size_mb(dists: list[metadata.Distribution]) -> float:
    total = 0
    for dist in dists:
        for f in dist.files or []:
            path = Path(dist.locate_file(f))
            if path.is_file():
                total += path.stat().st_size
    return round(total / 1e6, 1)


def table() -> list[dict]:
    """Each install: the distributions it brings and their size."""
    base = requirements()
    installs = [("pip install sentiscore (scoring only)", base),
                ("pip install 'sentiscore[train]' (every stage)", base + requirements("train")),
                ("[train,openvino] (+ OpenVINO int8 variant)", base + requirements("train") + requirements("openvino")),
                ("[train,ray] (+ Ray engine)", base + requirements("train") + requirements("ray"))]
    rows = []
    for name, wanted in installs:
        dists = closure(wanted)
        rows.append({"install": name, "distributions": len(dists), "size_mb": size_mb(dists),
                     "has_torch": any(canonicalize_name(d.metadata["Name"]) == "torch" for d in dists)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="footprint", help="results file name (default footprint)")
    args = parser.parse_args()
    rows = table()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"platform": platform.platform(), "rows": rows}, indent=2))
    lines = [f"# Install footprint ({platform.system()} {platform.machine()}, Python {platform.python_version()})", "",
             "Installed size of each install's packages, dependencies included (`python -m bench.footprint`).", "",
             "| install | packages | size MB | torch |", "|---|---|---|---|",
             *[f"| {r['install']} | {r['distributions']} | {r['size_mb']:,} | {'yes' if r['has_torch'] else 'no'} |"
               for r in rows]]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
