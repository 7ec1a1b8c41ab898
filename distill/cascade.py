"""The cascade stage's entry point: a student run and its teacher run in, a cascade folder out
(sentiscore/cascade.py), which `score` takes like any model folder and `parity` checks against the
teacher's PyTorch checkpoint."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiscore import atomic, log
from sentiscore.cascade import CASCADE, MEMBERS, CascadeFolder, CascadeSpec, top_probability
from sentiscore.errors import BadInput
from sentiscore.export.gate import ParityReport, Thresholds, torch_logits
from sentiscore.export.stage import cascade_parity
from sentiscore.manifest import MANIFEST, sha256_file
from sentiscore.onnx_model import OnnxModel, resolve_variant
from sentiscore.runs import RunFolder
from sentiscore.score.predict import scorer_logits
from sentiscore.tokens import Encoder

from .compare import Comparison, compare_models

ALL_TO_TEACHER = 1.01  # above every probability: the teacher scores every row


@dataclass(frozen=True)
class CascadeResult:
    folder: CascadeFolder
    spec: CascadeSpec
    parity: ParityReport
    comparison: Comparison | None

    def to_dict(self) -> dict:
        return {"folder": str(self.folder.path), "threshold": self.spec.threshold,
                "teacher_share": self.spec.teacher_share, "selection": self.spec.selection,
                "parity": self.parity.to_dict(), "comparison": self.comparison and self.comparison.to_dict()}

    def lines(self) -> list[str]:
        s = self.spec.selection
        return [f"cascade folder: {self.folder.path}",
                f"threshold {self.spec.threshold:.4f}: the teacher scores {self.spec.teacher_share:.1%} of the "
                f"{s['rows']} gate rows; agreement with the teacher {s['accuracy']:.4f} (the student alone "
                f"{s['student_accuracy']:.4f}, limit {s['max_acc_drop_pp']} points)",
                *self.parity.lines(),
                *(["", f"every model on the test split ({self.comparison.rows} rows):", self.comparison.table()]
                  if self.comparison else [])]


def at_threshold(student_logits: np.ndarray, teacher_logits: np.ndarray, labels: np.ndarray, threshold: float,
                 max_acc_drop_pp: float, reference: np.ndarray | None = None) -> dict:
    """The cascade at THRESHOLD on rows with LABELS (the cascade stage: the teacher's PyTorch labels): the
    share sent to the teacher, its accuracy beside the teacher's (REFERENCE: the teacher's PyTorch logits,
    which the parity gate holds the cascade to; default its ONNX ones) and the student's, whether it keeps
    within the limit and predicts every class LABELS hold (the teacher's PyTorch labels: every class it predicts)."""
    student, teacher = student_logits.argmax(-1), teacher_logits.argmax(-1)
    to_teacher = top_probability(student_logits) < threshold
    predicted = np.where(to_teacher, teacher, student)
    reference_labels = teacher if reference is None else reference.argmax(-1)
    accuracy, teacher_accuracy = float((predicted == labels).mean()), float((reference_labels == labels).mean())
    return {"threshold": float(threshold), "teacher_share": float(to_teacher.mean()), "accuracy": accuracy,
            "teacher_accuracy": teacher_accuracy, "student_accuracy": float((student == labels).mean()),
            "max_acc_drop_pp": max_acc_drop_pp, "rows": int(len(labels)),
            "within_limit": accuracy * 100 >= teacher_accuracy * 100 - max_acc_drop_pp - 1e-9,
            "every_class": set(np.unique(labels)) <= set(np.unique(predicted))}


def thresholds_within_limit(student_logits: np.ndarray, teacher_logits: np.ndarray, labels: np.ndarray,
                            max_acc_drop_pp: float, reference: np.ndarray | None = None) -> Iterator[dict]:
    """Every threshold whose cascade stays within MAX_ACC_DROP_PP points of the teacher's accuracy and
    predicts every class LABELS hold, smallest share sent to the teacher first (the share grows with the threshold,
    so the first is the one to choose). Candidates: 0 (the student alone), the midpoints between the
    student's distinct top probabilities, 1.01 (the teacher alone)."""
    levels = np.unique(top_probability(student_logits))
    for threshold in [0.0, *((levels[:-1] + levels[1:]) / 2).tolist(), ALL_TO_TEACHER]:
        result = at_threshold(student_logits, teacher_logits, labels, threshold, max_acc_drop_pp, reference)
        if result["within_limit"] and result["every_class"]:
            yield result


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where both sit on one file system (a cascade costs no disk), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def cascade(student: RunFolder | str | Path, teacher: RunFolder | str | Path | None = None,
            output: Path | None = None, max_acc_drop_pp: float = 0.5, overwrite: bool = False,
            threshold: float | None = None, compare: bool = True) -> CascadeResult:
    """Write the cascade of two exported runs to OUTPUT (default STUDENT_RUN/cascade) atomically: both
    exports' files, the threshold chosen on the teacher's gate rows (validation and training texts),
    parity and the comparison. TEACHER: default, the run the student was distilled from. THRESHOLD: a
    fixed one instead (0: the student alone, 1.01: the teacher alone), still measured on those rows.
    COMPARE: also put every model side by side on the test split (trains the RNN and LSTM baselines:
    minutes on big data)."""
    student = student if isinstance(student, RunFolder) else RunFolder.open(student)
    if teacher is None:
        teacher = student.metrics().distillation.get("teacher")
        if teacher is None:
            raise BadInput(f"{student.path}: not a distilled run; name its TEACHER_RUN")
    teacher = teacher if isinstance(teacher, RunFolder) else RunFolder.open(teacher)
    if max_acc_drop_pp < 0:
        raise BadInput(f"--max-acc-drop {max_acc_drop_pp}: must be >= 0")
    if threshold is not None and not 0 <= threshold <= ALL_TO_TEACHER:
        raise BadInput(f"--threshold {threshold}: must be in [0, {ALL_TO_TEACHER}]")
    exports = {"student": student.export_folder(), "teacher": teacher.export_folder()}
    manifests = {name: folder.manifest() for name, folder in exports.items()}
    _check_pair(student, teacher, manifests)
    output = Path(output) if output else student.path / "cascade"
    if output.exists() and not overwrite:
        raise BadInput(f"--output {output}: already exists (use --overwrite to replace it)")
    # the gate's rows (validation, then unlabelled training texts: 2,000 in all); the threshold is chosen
    # against the teacher's own PyTorch labels on them, which every row has
    rows = teacher.agreement_rows()
    texts = rows["text"].tolist()
    variants = {name: resolve_variant(manifests[name], "cpu", None)[1] for name in MEMBERS}
    logits = {name: scorer_logits(OnnxModel.load(exports[name], variants[name]), texts)[0] for name in MEMBERS}
    # held to the teacher's PyTorch accuracy, as the parity gate holds it (its ONNX variant may round otherwise)
    encoder = Encoder.from_file(exports["teacher"].path / "tokenizer.json", manifests["teacher"].max_length,
                                manifests["teacher"].truncation)
    reference = torch_logits(teacher.checkpoint, encoder, texts)
    labels = reference.argmax(-1)
    # the gate below runs the real routing: the teacher scores the doubtful rows batched by themselves, and an
    # int8 row's result depends on its batch-mates (dynamic int8 rounds a batch by its own range), so a
    # threshold that keeps the limit on the whole split's logits may lose a row there; then the next one is
    # tried (rejected: those that did)
    candidates = thresholds_within_limit(logits["student"], logits["teacher"], labels, max_acc_drop_pp, reference) \
        if threshold is None else iter([at_threshold(logits["student"], logits["teacher"], labels, threshold,
                                                     max_acc_drop_pp, reference)])
    selection = next(candidates, None)
    if selection is None:
        raise BadInput("the teacher alone predicts one class on the gate's rows: no cascade of it can pass the gate")
    with tempfile.TemporaryDirectory(prefix="sentiscore-cascade-") as work, \
            atomic.atomic_dir(output, overwrite=overwrite) as tmp:
        files = {}
        for name in MEMBERS:
            (tmp / name).mkdir()
            for file in [*manifests[name].files, MANIFEST]:
                _link_or_copy(exports[name].path / file, tmp / name / file)
                files[f"{name}/{file}"] = {"sha256": sha256_file(tmp / name / file),
                                           "bytes": (tmp / name / file).stat().st_size}
        members = {name: {"run": str(run.path.resolve()), "variant": variants[name],
                          "model_hash": manifests[name].variant_hash(variants[name])}
                   for name, run in (("student", student), ("teacher", teacher))}
        folder, rejected = CascadeFolder(tmp), []
        for candidate in itertools.chain([selection], candidates):  # the last one tried stands, passed or not
            selection = {**candidate, "rejected": rejected}
            log.event("cascade.threshold", **selection)
            spec = CascadeSpec(selection["threshold"], selection["teacher_share"], members["student"],
                               members["teacher"], files, selection)
            atomic.write_json(tmp / CASCADE, spec.to_dict())
            report = cascade_parity(folder, limits=Thresholds(max_acc_drop_pp=max_acc_drop_pp), reference=reference)
            if report.passed:
                break
            (result,) = report.variants.values()
            rejected = [*rejected, {"threshold": selection["threshold"], "accuracy": result.accuracy}]
        comparison = compare_models(student, teacher, folder, Path(work)) if compare else None
        if comparison:
            comparison.write(folder, output.name)
    return CascadeResult(CascadeFolder(output), spec, report, comparison)


def _check_pair(student: RunFolder, teacher: RunFolder, manifests: dict) -> None:
    """Both members must name the classes alike and share the teacher's splits (the threshold is chosen on
    its validation rows). Their tokenizers may differ: each tokenises the texts it scores."""
    if manifests["student"].labels != manifests["teacher"].labels:
        raise BadInput(f"{student.path}: its labels {manifests['student'].labels} are not the teacher's "
                       f"{manifests['teacher'].labels}")
    if student.split_ids("validation") != teacher.split_ids("validation"):
        raise BadInput(f"{student.path}: its validation split is not {teacher.path}'s (distil it from this teacher)")
