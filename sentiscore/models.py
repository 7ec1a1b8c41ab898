"""MODEL as `score`, `parity` and every engine take it: an export folder (or a run folder holding
one), or a cascade folder. One set of calls for both kinds, so no stage or engine tells them apart."""

from __future__ import annotations

from pathlib import Path

from sentiscore.cascade import MEMBERS, CascadeFolder, CascadeModel, cascade_hash, split_variant
from sentiscore.manifest import VARIANTS
from sentiscore.onnx_model import OnnxModel, resolve_variant
from sentiscore.runs import ExportFolder

ModelFolder = ExportFolder | CascadeFolder


def find_model(model: str | Path) -> ModelFolder:
    """A cascade folder, else an export folder or the run folder holding one (BadInput for anything else)."""
    return CascadeFolder(Path(model)) if CascadeFolder.holds(Path(model)) else ExportFolder.find(model)


def choose_variant(folder: ModelFolder, provider: str, precision: str | None,
                   runtime: str | None) -> tuple[str, str]:
    """(provider, variant) as --provider, --precision and --runtime ask, else the fastest that passed
    the gate; a cascade's is STUDENT+TEACHER."""
    if isinstance(folder, CascadeFolder):
        return folder.variants(provider, precision, runtime)
    return resolve_variant(folder.manifest(), provider, precision, runtime)


def model_hash(folder: ModelFolder, variant: str, verify: bool = False) -> str:
    """What VARIANT of FOLDER computes, as a hash (a job's identity); with VERIFY, its files are
    checked against the folder's manifest first."""
    if isinstance(folder, CascadeFolder):
        spec = folder.spec()
        if verify:
            folder.verify(spec, variant)
        hashes = [folder.member(m).manifest().variant_hash(v) for m, v in zip(MEMBERS, split_variant(variant),
                                                                             strict=True)]
        return cascade_hash(*hashes, spec.threshold)
    manifest = folder.manifest()
    if verify:
        manifest.verify(folder.path, manifest.variant_files(variant))
    return manifest.variant_hash(variant)


def load_model(folder: Path, variant: str, provider: str = "cpu", threads: int | None = None,
               verify: bool = True) -> OnnxModel | CascadeModel:
    """The model an engine scores with, its files checked first (with VERIFY)."""
    if CascadeFolder.holds(folder):
        return CascadeModel.load(folder, variant, provider, threads, verify)
    return OnnxModel.load(folder, variant, provider, threads, verify)


def is_int8(variant: str) -> bool:
    """Whether any model of VARIANT (a cascade's two included) rounds to int8."""
    return any(VARIANTS[v].precision == "int8" for v in (split_variant(variant) if "+" in variant else (variant,)))
