"""The parity gate: the PyTorch checkpoint and every ONNX variant on the same rows, same tokens.

Each variant runs as the scorer runs it (score.predict.scorer_logits: its windows, sorted token-budget
batches): an int8 row's logits depend on its batch-mates, and the gate judges what `score` writes.

The rows (RunFolder.agreement_rows): the validation split, labelled, then unlabelled training texts up
to 2,000: agreement with PyTorch needs no labels, and on 244 labelled rows one row is 0.41 points.
- fp32 must agree with PyTorch on labels (it computes the same function): >= `min_agreement`.
- int8 and fp16 round, so they are held to the labelled rows' accuracy and macro-F1: a drop fails only
  when it is over `max_acc_drop_pp` points AND significant by McNemar's exact test at `significance`
  (a paired test on the labelled rows where exactly one of PyTorch and the variant is right), so a
  verdict does not flip on a row or two between hosts; and they must agree on >= `min_quantised_agreement`
  of all the rows.
- The training texts flatter agreement (a model is sure of the rows it learnt from), so int8 and fp16 also
  fail when, on the labelled held-out rows alone, they differ from PyTorch significantly more often than
  `min_quantised_agreement` allows (a one-sided exact binomial test at `significance`).
- Any variant that never predicts a class PyTorch predicts, or predicts one class only, or whose file no
  longer matches its manifest hash, fails.
The verdict is a pure function of the logits: the same logits give the same decision on any host.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sentiscore import atomic, log
from sentiscore.errors import BadInput
from sentiscore.labels import DEFAULT, NO_LABEL
from sentiscore.manifest import VARIANTS, sha256_file
from sentiscore.metrics import Metrics, classification_metrics
from sentiscore.onnx_model import OnnxModel, pad_batch, runtime_installed
from sentiscore.runs import ExportFolder
from sentiscore.score.predict import scorer_logits
from sentiscore.tokens import Encoder

BATCH = 64  # PyTorch's batches, in input order (fp32: a row's logits do not depend on its batch-mates)
METRICS = ("accuracy", "precision", "recall", "f1", "macro_f1")


@dataclass(frozen=True)
class Thresholds:
    """The contract's defaults: fp32 agrees on >= 99.9% of labels; int8/fp16 lose <= 0.5 points unless
    McNemar's test says the loss is chance at the 5% level, and agree on >= 97% of the rows."""

    min_agreement: float = 0.999
    max_acc_drop_pp: float = 0.5
    significance: float = 0.05  # McNemar's exact test, two-sided
    min_quantised_agreement: float = 0.97  # int8 and fp16 flip a few borderline rows; 3% is a broken variant

    def __post_init__(self) -> None:
        if not 0 <= self.min_agreement <= 1:
            raise BadInput(f"--min-agreement {self.min_agreement}: must be in [0, 1]")
        if self.max_acc_drop_pp < 0:
            raise BadInput(f"--max-acc-drop {self.max_acc_drop_pp}: must be >= 0")
        if not 0 < self.significance <= 1:
            raise BadInput(f"--significance {self.significance}: must be in (0, 1]")
        if not 0 <= self.min_quantised_agreement <= 1:
            raise BadInput(f"--min-quantised-agreement {self.min_quantised_agreement}: must be in [0, 1]")


def excess_disagreement_p(disagreements: int, rows: int, allowed: float) -> float:
    """One-sided exact binomial p-value of DISAGREEMENTS in ROWS if the variant's true disagreement rate
    were ALLOWED: small when the variant differs from PyTorch on more held-out rows than chance explains."""
    if allowed <= 0:
        return 0.0 if disagreements else 1.0
    if allowed >= 1 or not disagreements:
        return 1.0
    log_p, log_q = math.log(allowed), math.log1p(-allowed)
    terms = (math.lgamma(rows + 1) - math.lgamma(k + 1) - math.lgamma(rows - k + 1) + k * log_p + (rows - k) * log_q
             for k in range(disagreements, rows + 1))
    return min(1.0, sum(math.exp(t) for t in terms))


def mcnemar_p(worse: int, better: int) -> float:
    """McNemar's exact two-sided p-value: WORSE rows PyTorch gets right and the variant wrong, BETTER the
    other way; under no difference each discordant row is a fair coin (a binomial test at 1/2)."""
    n = worse + better
    tail = sum(math.comb(n, k) for k in range(min(worse, better) + 1))
    return min(1.0, 2 * tail / 2 ** n) if n else 1.0


@dataclass(frozen=True)
class VariantParity:
    """One variant against PyTorch on the same rows (metrics over the labelled ones; zero where none)."""

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
    macro_f1: float = 0.0
    macro_f1_diff: float = 0.0
    worse: int = 0  # labelled rows PyTorch gets right and the variant wrong
    better: int = 0  # labelled rows the variant gets right and PyTorch wrong
    p_value: float = 1.0  # McNemar's exact test on worse vs better

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
    """parity.json: PyTorch's metrics (None without labelled rows), every variant against them, and where
    the rows came from."""

    rows: int
    thresholds: Thresholds
    pytorch: Metrics | None
    variants: dict[str, VariantParity]
    data: str = "recipe dataset"
    split: str = "validation"
    int8_attempts: list[Int8Attempt] = field(default_factory=list)
    teacher_share: float | None = None  # a cascade's: the share of rows its teacher scored
    labelled_rows: int | None = None  # rows with a label (the rest count for agreement only); None: all

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

    def rows_line(self) -> str:
        labelled = self.rows if self.labelled_rows is None else self.labelled_rows
        if not labelled:
            return (f"{self.rows} rows, none labelled: agreement with PyTorch checked, accuracy NOT checked "
                    "(give labelled rows with --data)")
        extra = f", {self.rows - labelled} more unlabelled for agreement" if labelled < self.rows else ""
        return (f"{labelled} labelled rows{extra}; a drop fails when over {self.thresholds.max_acc_drop_pp} points "
                f"and McNemar's exact p < {self.thresholds.significance}")

    def lines(self) -> list[str]:
        share = [] if self.teacher_share is None else [f"the cascade's teacher scored {self.teacher_share:.1%} "
                                                       "of the rows"]
        return [f"parity on {self.data}, split {self.split} ({self.rows_line()}):", self.table(), *share]

    def write(self, folder: ExportFolder) -> None:
        atomic.write_json(folder.parity_file, self.to_dict())

    @classmethod
    def read(cls, folder: ExportFolder) -> ParityReport | None:
        if not folder.parity_file.is_file():
            return None
        data = json.loads(folder.parity_file.read_text())
        drop = ("passed",)
        return cls(rows=data["rows"], thresholds=Thresholds(**data["thresholds"]),
                   pytorch=Metrics(**data["pytorch"]) if data["pytorch"] else None,
                   variants={n: VariantParity(**{k: x for k, x in v.items() if k not in drop})
                             for n, v in data["variants"].items()},
                   data=data["data"], split=data["split"],
                   int8_attempts=[Int8Attempt(**a) for a in data.get("int8_attempts", [])],
                   teacher_share=data.get("teacher_share"), labelled_rows=data.get("labelled_rows"))

    def table(self) -> str:
        """The report as a Markdown table: metrics over the labelled rows, agreement over all of them."""
        lines = ["| model | size MB | accuracy | Δ acc (pp) | macro-F1 | Δ macro-F1 (pp) | agreement "
                 "| PyTorch-only right / variant-only right | McNemar p | max abs logit diff | gate |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        p = self.pytorch
        if p is None:
            lines.append("| PyTorch | | n/a | | n/a | | | | | | |")
        else:
            lines.append(f"| PyTorch | | {p.accuracy:.4f} | | {p.macro_f1:.4f} | | | | | | |")
        for name, v in self.variants.items():
            gate = "pass" if v.passed else "FAIL: " + "; ".join(v.failures)
            scored = [f"{v.accuracy:.4f}", f"{v.accuracy_diff * 100:+.2f}", f"{v.macro_f1:.4f}",
                      f"{v.macro_f1_diff * 100:+.2f}"] if p is not None else ["n/a", "", "n/a", ""]
            paired = [f"{v.worse} / {v.better}", f"{v.p_value:.3g}"] if p is not None else ["", ""]
            cells = [f"ONNX {name}", f"{v.file_bytes / 1e6:.1f}", *scored, f"{v.label_agreement * 100:.2f}%",
                     *paired, f"{v.max_abs_logit_diff:.2e}", gate]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def reference_metrics(labels: np.ndarray, reference: np.ndarray, names: Sequence[str]) -> Metrics | None:
    """PyTorch's metrics over the labelled rows (None where no row has a label)."""
    known = labels != NO_LABEL
    return classification_metrics(labels[known], reference.argmax(-1)[known], names) if known.any() else None


def compare(name: str, logits: np.ndarray, reference: np.ndarray, labels: np.ndarray, limits: Thresholds,
            names: Sequence[str] = DEFAULT) -> VariantParity:
    """One variant's logits against PyTorch's on the same rows (LABELS: NO_LABEL where a row has none):
    metrics, differences, agreement, McNemar's test, verdict. A pure function of its arguments."""
    ref, pred = reference.argmax(-1), logits.argmax(-1)
    known = labels != NO_LABEL
    agreement = float((ref == pred).mean())
    failures = []
    if len(np.unique(pred)) < 2:
        failures.append(f"predicts one class only ({names[int(pred[0])]})")
    elif missing := sorted(set(ref.tolist()) - set(pred.tolist())):
        failures.append(f"never predicts {', '.join(names[i] for i in missing)} (PyTorch does)")
    if name == "fp32" and agreement < limits.min_agreement:
        failures.append(f"label agreement {agreement:.4f} < {limits.min_agreement}")
    if name != "fp32" and agreement < limits.min_quantised_agreement:
        failures.append(f"label agreement {agreement:.4f} < {limits.min_quantised_agreement}")
    zero = Metrics(0, 0.0, 0.0, 0.0, 0.0, [])
    ref_m = m = zero
    worse = better = 0
    p_value = 1.0
    if known.any():
        truth = labels[known]
        ref_m, m = classification_metrics(truth, ref[known], names), classification_metrics(truth, pred[known], names)
        ref_right, right = ref[known] == truth, pred[known] == truth
        worse, better = int((ref_right & ~right).sum()), int((~ref_right & right).sum())
        p_value = mcnemar_p(worse, better)
        # the training texts flatter agreement (the model is sure of the rows it learnt): on the labelled,
        # held-out rows a variant must not differ from PyTorch significantly more often than the floor allows
        held_out = float((ref[known] == pred[known]).mean())
        excess_p = excess_disagreement_p(int((ref[known] != pred[known]).sum()), int(known.sum()),
                                         1 - limits.min_quantised_agreement)
        if name != "fp32" and excess_p < limits.significance:
            failures.append(f"labelled-row agreement {held_out:.4f}: significantly below "
                            f"{limits.min_quantised_agreement} (binomial p {excess_p:.3g} < {limits.significance})")
        for metric, what in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
            drop_pp = (getattr(ref_m, metric) - getattr(m, metric)) * 100
            if name != "fp32" and drop_pp > limits.max_acc_drop_pp and p_value < limits.significance:
                failures.append(f"{what} drop {drop_pp:.2f} points > {limits.max_acc_drop_pp} "
                                f"(McNemar p {p_value:.3g} < {limits.significance})")
    return VariantParity(
        accuracy=m.accuracy, precision=m.precision, recall=m.recall, f1=m.f1, confusion_matrix=m.confusion_matrix,
        **{f"{k}_diff": getattr(m, k) - getattr(ref_m, k) for k in METRICS},
        label_agreement=agreement, max_abs_logit_diff=float(np.abs(logits - reference).max()), failures=failures,
        macro_f1=m.macro_f1, worse=worse, better=better, p_value=p_value)


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
                  limits: Thresholds, expected: dict[Path, str] | None = None,
                  names: Sequence[str] = DEFAULT) -> VariantParity:
    """One model on the parity rows; EXPECTED: its files and their manifest hashes, which must still match."""
    result = compare(name, scorer_logits(model, texts)[0], reference, labels, limits, names)
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
        model = OnnxModel.load(folder, name, verify=False)
        results[name] = check_variant(model, name, texts, labels, reference, limits, expected, model.labels)
    return results
