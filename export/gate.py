"""The parity gate: the PyTorch checkpoint and every ONNX variant on the same rows, same tokens.

Each variant runs as the scorer runs it (score.predict.scorer_logits: its windows, sorted token-budget
batches): an int8 row's logits depend on its batch-mates, and the gate judges what `score` writes.
fp32 must agree with PyTorch on labels (it computes the same function); int8 and fp16 round, so
they are held to accuracy: at most `max_acc_drop_pp` points below PyTorch's. Any variant that
predicts one class only, or whose file no longer matches its manifest hash, fails.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sentiscore import atomic, log
from sentiscore.errors import BadInput
from sentiscore.manifest import VARIANTS, sha256_file
from sentiscore.metrics import Metrics, binary_metrics
from sentiscore.onnx_model import OnnxModel, pad_batch, runtime_installed
from sentiscore.runs import ExportFolder
from sentiscore.score.predict import scorer_logits
from sentiscore.tokens import Encoder

BATCH = 64  # PyTorch's batches, in input order (fp32: a row's logits do not depend on its batch-mates)
METRICS = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class Thresholds:
    """The contract's defaults: fp32 agrees on >= 99.9% of labels; int8/fp16 lose <= 0.5 points."""

    min_agreement: float = 0.999
    max_acc_drop_pp: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.min_agreement <= 1:
            raise BadInput(f"--min-agreement {self.min_agreement}: must be in [0, 1]")
        if self.max_acc_drop_pp < 0:
            raise BadInput(f"--max-acc-drop {self.max_acc_drop_pp}: must be >= 0")


@dataclass(frozen=True)
class VariantParity:
    """One variant against PyTorch on the same rows."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion_matrix: list[list[int]]
    accuracy_diff: float
    precision_diff: float
    recall_diff: float
    f1_diff: float
    label_agreement: float
    max_abs_logit_diff: float
    failures: list[str]
    file_bytes: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Int8Attempt:
    """One int8 variant tried at export: a dynamic recipe (variant int8) or a static variant."""

    recipe: str
    passed: bool
    accuracy_diff: float
    label_agreement: float
    variant: str = "int8"


@dataclass
class ParityReport:
    """parity.json: PyTorch's metrics, every variant against them, and where the rows came from."""

    rows: int
    thresholds: Thresholds
    pytorch: Metrics
    variants: dict[str, VariantParity]
    data: str = "recipe dataset"
    split: str = "validation"
    int8_attempts: list[Int8Attempt] = field(default_factory=list)
    teacher_share: float | None = None  # a cascade's: the share of rows its teacher scored

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.variants.values())

    @property
    def dynamic_int8_attempts(self) -> list[Int8Attempt]:
        """The dynamic int8 recipes tried, in order (the static variants' tries left out)."""
        return [a for a in self.int8_attempts if a.variant == "int8"]

    @property
    def int8_failed_every_recipe(self) -> bool:
        dynamic = self.dynamic_int8_attempts
        return bool(dynamic) and not any(a.passed for a in dynamic)

    def failures(self) -> str:
        return " | ".join(f"{n}: {'; '.join(v.failures)}" for n, v in self.variants.items() if not v.passed)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed, "int8_failed_every_recipe": self.int8_failed_every_recipe,
                "variants": {n: {**asdict(v), "passed": v.passed} for n, v in self.variants.items()}}

    def lines(self) -> list[str]:
        share = [] if self.teacher_share is None else [f"the cascade's teacher scored {self.teacher_share:.1%} "
                                                       "of the rows"]
        return [f"parity on {self.data}, split {self.split} ({self.rows} rows):", self.table(), *share]

    def write(self, folder: ExportFolder) -> None:
        atomic.write_json(folder.parity_file, self.to_dict())

    @classmethod
    def read(cls, folder: ExportFolder) -> ParityReport | None:
        if not folder.parity_file.is_file():
            return None
        data = json.loads(folder.parity_file.read_text())
        drop = ("passed",)
        return cls(rows=data["rows"], thresholds=Thresholds(**data["thresholds"]), pytorch=Metrics(**data["pytorch"]),
                   variants={n: VariantParity(**{k: x for k, x in v.items() if k not in drop})
                             for n, v in data["variants"].items()},
                   data=data["data"], split=data["split"],
                   int8_attempts=[Int8Attempt(**a) for a in data.get("int8_attempts", [])],
                   teacher_share=data.get("teacher_share"))

    def table(self) -> str:
        """The report as a Markdown table."""
        lines = ["| model | size MB | accuracy | Δ acc (pp) | precision | recall | F1 | ΔF1 (pp) | agreement "
                 "| max abs logit diff | gate |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        p = self.pytorch
        lines.append(f"| PyTorch | | {p.accuracy:.4f} | | {p.precision:.4f} | {p.recall:.4f} | {p.f1:.4f} "
                     "| | | | |")
        for name, v in self.variants.items():
            gate = "pass" if v.passed else "FAIL: " + "; ".join(v.failures)
            lines.append(f"| ONNX {name} | {v.file_bytes / 1e6:.1f} | {v.accuracy:.4f} | {v.accuracy_diff * 100:+.2f} "
                         f"| {v.precision:.4f} | {v.recall:.4f} | {v.f1:.4f} | {v.f1_diff * 100:+.2f} "
                         f"| {v.label_agreement * 100:.2f}% | {v.max_abs_logit_diff:.2e} | {gate} |")
        return "\n".join(lines)


def compare(name: str, logits: np.ndarray, reference: np.ndarray, labels: np.ndarray,
            limits: Thresholds) -> VariantParity:
    """One variant's logits against PyTorch's on the same rows: metrics, differences, agreement, verdict."""
    ref, pred = reference.argmax(-1), logits.argmax(-1)
    ref_m, m = binary_metrics(labels, ref), binary_metrics(labels, pred)
    agreement = float((ref == pred).mean())
    accuracy_drop_pp = (ref_m.accuracy - m.accuracy) * 100
    failures = []
    if len(np.unique(pred)) < 2:
        failures.append(f"predicts one class only ({int(pred[0])})")
    if name == "fp32" and agreement < limits.min_agreement:
        failures.append(f"label agreement {agreement:.4f} < {limits.min_agreement}")
    if name != "fp32" and accuracy_drop_pp > limits.max_acc_drop_pp:
        failures.append(f"accuracy drop {accuracy_drop_pp:.2f} points > {limits.max_acc_drop_pp}")
    return VariantParity(
        accuracy=m.accuracy, precision=m.precision, recall=m.recall, f1=m.f1, confusion_matrix=m.confusion_matrix,
        **{f"{k}_diff": getattr(m, k) - getattr(ref_m, k) for k in METRICS},
        label_agreement=agreement, max_abs_logit_diff=float(np.abs(logits - reference).max()), failures=failures)


def torch_logits(checkpoint: Path, encoder: Encoder, texts: list[str]) -> np.ndarray:
    """PyTorch logits for `texts` from a checkpoint, tokenised and cut exactly as the ONNX side is (batched
    in input order: in fp32 a row's logits do not depend on its batch-mates)."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=True)
    log.adopt_library_loggers()
    return model_logits(model, encoder, texts)


def model_logits(model, encoder: Encoder, texts: list[str]) -> np.ndarray:
    """A PyTorch model's logits for `texts` in their order, in batches of BATCH rows."""
    import torch

    model = model.eval()
    ids = encoder.encode(texts)
    pad_id = model.config.pad_token_id or 0
    accepted = inspect.signature(model.forward).parameters  # no token_type_ids for MPNet, DistilBERT
    out = []
    with torch.inference_mode():
        for start in range(0, len(ids), BATCH):
            feeds = pad_batch(ids[start:start + BATCH], pad_id)
            out.append(model(**{k: torch.from_numpy(v).to(model.device) for k, v in feeds.items() if k in accepted})
                       .logits.float().cpu().numpy())
    return np.concatenate(out)


def check_variant(model: OnnxModel, name: str, texts: list[str], labels: np.ndarray, reference: np.ndarray,
                  limits: Thresholds, expected: dict[Path, str] | None = None) -> VariantParity:
    """One model on the parity rows; EXPECTED: its files and their manifest hashes, which must still match."""
    result = compare(name, scorer_logits(model, texts)[0], reference, labels, limits)
    expected = expected or {}
    altered = [f"{path.name}: sha256 differs from manifest.json (altered after export)"
               for path, digest in expected.items() if sha256_file(path) != digest]
    files = list(expected) or [model.model_file]
    return VariantParity(**{**asdict(result), "failures": altered + result.failures,
                            "file_bytes": sum(path.stat().st_size for path in files)})


def check_folder(folder: ExportFolder, texts: list[str], labels: np.ndarray, reference: np.ndarray,
                 limits: Thresholds) -> dict[str, VariantParity]:
    """Every variant of an export folder on the parity rows (loaded as they are, then hash-checked);
    a variant whose runtime is not installed here is left out, with a warning."""
    manifest = folder.manifest()
    results = {}
    for name in manifest.variants:
        if not runtime_installed(VARIANTS[name].runtime):
            log.warning("parity.skipped", variant=name, reason=f"{VARIANTS[name].runtime} is not installed here")
            continue
        expected = {folder.path / f: manifest.files[f]["sha256"] for f in VARIANTS[name].files}
        results[name] = check_variant(OnnxModel.load(folder, name, verify=False), name, texts, labels, reference,
                                      limits, expected)
    return results
