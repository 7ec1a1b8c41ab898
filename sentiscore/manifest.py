"""The export folder's manifest: what the folder holds, every file with its sha256, checked before a
model is trusted."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sentiscore.errors import BadInput
from sentiscore.labels import from_id2label
from sentiscore.tokens import TRUNCATIONS

MANIFEST = "manifest.json"
FORMAT = "sentiscore-export/1"
RUNTIMES = ("onnxruntime", "openvino")
PRECISIONS = ("fp32", "int8", "fp16")
# "int8" names a precision (the fastest int8 variant) and a variant (the dynamic one): this names the
# variant alone, for a user or a test that means that model file whichever int8 is fastest here
EXACT_NAMES = {"int8-dynamic": "int8"}


@dataclass(frozen=True)
class Variant:
    """One way to run the model: a runtime, a precision, its files (the first is the one the runtime opens)."""

    runtime: str
    precision: str
    files: tuple[str, ...]
    how: str  # for people: how it was made

    @property
    def model_file(self) -> str:
        return self.files[0]


VARIANTS = {
    "fp32": Variant("onnxruntime", "fp32", ("model.onnx",), "Optimum's export, onnxruntime's fusions"),
    "int8": Variant("onnxruntime", "int8", ("model.int8.onnx",), "dynamic int8 (activation scales per batch)"),
    "int8-static": Variant("onnxruntime", "int8", ("model.int8-static.onnx",),
                           "static int8, QDQ, calibrated on training rows"),
    "openvino-int8": Variant("openvino", "int8", ("model.openvino-int8.xml", "model.openvino-int8.bin"),
                             "OpenVINO IR, NNCF post-training int8, calibrated on training rows"),
    "fp16": Variant("onnxruntime", "fp16", ("model.fp16.onnx",), "fp16 weights and GPU fusions, for CUDA"),
}


def exact_name(variant: str) -> str:
    """The --precision value that chooses VARIANT alone: int8-dynamic for int8, else its own name."""
    return next((name for name, target in EXACT_NAMES.items() if target == variant), variant)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(folder: Path, leave_out: tuple[str, ...] = ()) -> dict[str, dict]:
    """sha256 and size of every file in `folder` but the manifest and those left out."""
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and p.name not in (MANIFEST, *leave_out)}


@dataclass(frozen=True)
class Manifest:
    """manifest.json: the variants, how to feed them, how they were made, and every file's hash."""

    source_checkpoint: str
    opset: int
    inputs: list[str]
    outputs: list[str]
    max_length: int
    pad_token_id: int
    labels: dict[str, str]
    variants: list[str]
    default_cpu_variant: str
    default_cuda_variant: str
    graph_optimization: str
    int8_recipe: str | None
    files: dict[str, dict]
    versions: dict[str, str]
    truncation: str = "head"  # how texts over max_length are cut (sentiscore.tokens); older exports: head
    cpu_order: list[str] = dataclasses.field(default_factory=list)  # CPU variants that passed, fastest first
    cpu_speed: dict[str, float] = dataclasses.field(default_factory=dict)  # rows/s of each, timed at export
    calibration_ids: list[str] = dataclasses.field(default_factory=list)  # training rows the static int8 saw
    export_cpu: dict = dataclasses.field(default_factory=dict)  # sentiscore.cpu.int8_features() of the exporter
    fused: dict[str, int] = dataclasses.field(default_factory=dict)  # fused op counts of model.onnx (FUSED_OPS)
    format: str = FORMAT

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise BadInput(f"{folder}: no {MANIFEST} (not an export folder; run `sentiscore export RUN_DIR`)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}: invalid JSON ({exc})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise BadInput(f"{path}: no {missing[0]!r} (made by another sentiscore version? export again)")
        manifest = cls(**{k: v for k, v in data.items() if k in names})
        unknown = [v for v in manifest.variants if v not in VARIANTS]
        if unknown:
            raise BadInput(f"{path}: variant {unknown[0]!r} is unknown to this sentiscore version (upgrade it)")
        if manifest.truncation not in TRUNCATIONS:
            raise BadInput(f"{path}: truncation {manifest.truncation!r} (use {', '.join(TRUNCATIONS)})")
        return manifest

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def class_names(self) -> tuple[str, ...]:
        """The model's classes in index order (its config's id2label)."""
        return from_id2label(self.labels, f"{MANIFEST} labels")

    def variant_hash(self, variant: str) -> str:
        """What a variant computes, as a hash: its model file's sha256, or for a variant of several files
        (OpenVINO's graph and its weights) the sha256 of their names and sha256s: new weights under an
        unchanged graph file are another model."""
        if variant not in self.variants:
            raise BadInput(f"--precision {variant}: this export has no {variant} variant "
                           f"(exported: {', '.join(self.variants)})")
        files = VARIANTS[variant].files
        if len(files) == 1:
            return self.files[files[0]]["sha256"]
        return hashlib.sha256("".join(f"{name} {self.files[name]['sha256']}\n" for name in files).encode()).hexdigest()

    def variant_files(self, variant: str) -> list[str]:
        """Every file scoring VARIANT reads (the model's, the tokenizer, the config): what a loader verifies."""
        return [*VARIANTS[variant].files, "tokenizer.json", "config.json"]

    def cpu_variants(self) -> list[str]:
        """The CPU variants, fastest first as timed at export; older exports: the default only."""
        return self.cpu_order or [self.default_cpu_variant]

    def verify(self, folder: Path, names: list[str] | None = None) -> None:
        """Check the named files (default: all) against their hashes; a missing or altered file is BadInput."""
        for name in names or list(self.files):
            if name not in self.files:
                raise BadInput(f"{folder}: {name} is not in {MANIFEST}")
            path = folder / name
            if not path.is_file():
                raise BadInput(f"{path}: missing (listed in {MANIFEST})")
            if sha256_file(path) != self.files[name]["sha256"]:
                raise BadInput(f"{path}: sha256 differs from {MANIFEST}: the file was altered after export")
