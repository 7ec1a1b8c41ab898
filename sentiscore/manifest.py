"""The export folder's manifest: every file with its sha256, checked before a model is trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sentiscore.errors import BadInput

MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(folder: Path) -> dict[str, dict]:
    """sha256 and size of every file in `folder` except the manifest itself."""
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise BadInput(f"{folder}: no {MANIFEST} (not an export folder; run `sentiscore export RUN_DIR`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: invalid JSON ({exc})") from None


def verify(folder: Path, names: list[str] | None = None) -> dict:
    """Check the named files (default: all) against the manifest; a missing or altered file is BadInput."""
    manifest = read_manifest(folder)
    files = manifest["files"]
    for name in names or list(files):
        if name not in files:
            raise BadInput(f"{folder}: {name} is not in {MANIFEST}")
        path = folder / name
        if not path.is_file():
            raise BadInput(f"{path}: missing (listed in {MANIFEST})")
        if sha256_file(path) != files[name]["sha256"]:
            raise BadInput(f"{path}: sha256 differs from {MANIFEST}: the file was altered after export")
    return manifest
