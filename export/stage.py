"""The export stage's entry points: `export` (ONNX variants gated on parity) and `parity`."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore import atomic, log
from sentiscore.cascade import CascadeFolder, CascadeModel
from sentiscore.errors import BadInput
from sentiscore.export.gate import (
    Int8Attempt,
    ParityReport,
    Thresholds,
    VariantParity,
    check_folder,
    check_variant,
    compare,
    reference_metrics,
    torch_logits,
)
from sentiscore.export.onnx_export import OPTIMIZE_LEVELS, build_manifest, export_fp32, optimise, tokenizer_settings
from sentiscore.export.quantize import choose_int8
from sentiscore.export.report import write_report
from sentiscore.export.static_int8 import STATIC_MAKERS, Feeds, calibration_rows, interleaved_speed, scorer_batches
from sentiscore.labels import NO_LABEL
from sentiscore.manifest import VARIANTS, Manifest
from sentiscore.models import choose_variant
from sentiscore.onnx_model import OnnxModel, runtime_installed
from sentiscore.readers import labelled_parts
from sentiscore.runs import ExportFolder, RunFolder
from sentiscore.score.predict import scorer_logits
from sentiscore.splits import make_splits, recipe_columns
from sentiscore.tokens import Encoder


@dataclass(frozen=True)
class ExportOptions:
    """What `export` writes: int8 (dynamic and static, CPU) and fp16 (CUDA) beside fp32, and how it gates them."""

    int8: bool = True
    static: bool = True  # static int8 variants too (onnxruntime QDQ; OpenVINO where installed), each gated
    fp16: bool = False
    optimize: str = "O2"  # ORTOptimizer's level: O2 adds the transformer fusions (Attention, Gelu) to O1's
    overwrite: bool = False
    gate_rows: int | None = None  # None: gate on the whole validation split the run was trained against
    limits: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.optimize not in OPTIMIZE_LEVELS:
            raise BadInput(f"--optimize {self.optimize}: use one of {', '.join(OPTIMIZE_LEVELS)}")
        if self.gate_rows is not None and self.gate_rows < 1:
            raise BadInput(f"--gate-rows {self.gate_rows}: must be >= 1")


@dataclass(frozen=True)
class ExportResult:
    folder: ExportFolder
    manifest: Manifest
    parity: ParityReport
    report: Path

    def to_dict(self) -> dict:
        return {"folder": str(self.folder.path), "variants": self.manifest.variants,
                "int8_recipe": self.manifest.int8_recipe, "parity": self.parity.to_dict(), "report": str(self.report)}

    def lines(self) -> list[str]:
        return [f"exported to {self.folder.path}; parity on the validation split and training texts "
                f"({self.parity.rows_line()}):", self.parity.table(), f"report: {self.report}"]


def labelled(labels: np.ndarray) -> int:
    return int((labels != NO_LABEL).sum())


def _run(run: RunFolder | str | Path) -> RunFolder:
    return run if isinstance(run, RunFolder) else RunFolder.open(run)


def export(run: RunFolder | str | Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write RUN/onnx atomically: fp32, the first int8 recipe that passes the gate, the static int8
    variants that pass it, fp16 if asked, the manifest (with the CPU variants' speed order, timed here),
    and the gate's parity report on the validation split the run was trained against."""
    run = _run(run)
    if run.onnx.exists() and not options.overwrite:
        raise BadInput(f"{run.onnx}: already exported (use --overwrite to replace it)")
    rows = run.agreement_rows(options.gate_rows)
    texts, labels, classes = rows["text"].tolist(), rows["label"].to_numpy(), run.labels()
    calibration = calibration_rows(run.rows("train"))
    calibration_texts = calibration["text"].tolist()
    log.event("export.start", run=str(run.path), gate_rows=len(rows))
    with tempfile.TemporaryDirectory(prefix="sentiscore-export-") as scratch_dir, \
            atomic.atomic_dir(run.onnx, overwrite=options.overwrite) as tmp:
        scratch = Path(scratch_dir)
        raw = export_fp32(run.checkpoint, scratch, tmp, options.optimize)
        if options.fp16:
            shutil.copy2(optimise(raw, scratch / "fp16", options.optimize, fp16=True),
                         tmp / VARIANTS["fp16"].model_file)
        max_length, pad_id = tokenizer_settings(tmp)
        truncation = run.recipe().truncation
        reference = torch_logits(run.checkpoint, Encoder.from_file(tmp / "tokenizer.json", max_length, truncation),
                                 texts)

        def candidate(path: Path, runtime: str = "onnxruntime") -> OnnxModel:
            return OnnxModel(path, tmp / "tokenizer.json", max_length, pad_id, truncation=truncation, runtime=runtime,
                             labels=classes)

        def gate(path: Path, runtime: str = "onnxruntime"):
            return check_variant(candidate(path, runtime), "int8", texts, labels, reference, options.limits,
                                 names=classes)

        fp32 = tmp / VARIANTS["fp32"].model_file
        chosen, attempts = choose_int8(fp32, tmp / VARIANTS["int8"].model_file, gate) if options.int8 else (None, [])
        if options.int8 and options.static:
            feeds = scorer_batches(candidate(fp32), calibration_texts)  # calibrated as the scorer batches
            attempts += [make_static(name, raw, tmp, feeds, gate) for name in STATIC_MAKERS]
        cpu_variants = [v for v in VARIANTS if v != "fp16" and (tmp / VARIANTS[v].model_file).is_file()]
        speed = interleaved_speed(
            {v: candidate(tmp / VARIANTS[v].model_file, VARIANTS[v].runtime) for v in cpu_variants}, calibration_texts)
        folder = ExportFolder(tmp)
        manifest = build_manifest(tmp, run.checkpoint, options.optimize, chosen, truncation, speed,
                                  calibration["id"].astype(str).tolist() if options.int8 and options.static else [])
        folder.write_manifest(manifest)
        report = ParityReport(len(rows), options.limits, reference_metrics(labels, reference, classes),
                              check_folder(folder, texts, labels, reference, options.limits),
                              int8_attempts=attempts, labelled_rows=labelled(labels))
        report.write(folder)
    if report.int8_failed_every_recipe:
        log.warning("int8.dropped", reason="dynamic int8 failed the parity gate with every recipe tried and "
                    f"was not kept; the default CPU variant is {manifest.default_cpu_variant}",
                    recipes=", ".join(a.recipe for a in report.dynamic_int8_attempts))
    log.event("export.fusions", **manifest.fused)
    if not manifest.fused.get("attention"):
        log.warning("attention.unfused", reason="onnxruntime fused no Attention node in this architecture's graph: "
                    "its attention runs as MatMul and Softmax ops", nodes=manifest.fused.get("nodes"))
    log.event("export.speed", order=", ".join(manifest.cpu_order),
              **{name.replace("-", "_"): rows_s for name, rows_s in manifest.cpu_speed.items()})
    return ExportResult(ExportFolder(run.onnx), manifest, report, write_report(run))


def make_static(name: str, raw: Path, out: Path, feeds: Feeds,
                gate: Callable[[Path, str], VariantParity]) -> Int8Attempt:
    """Make static int8 variant NAME in OUT and gate it; a variant that fails the gate, or whose runtime
    is not installed, is not kept."""
    variant = VARIANTS[name]
    if not runtime_installed(variant.runtime):
        log.warning("variant.skipped", variant=name, reason=f"{variant.runtime} is not installed "
                    f"(pip install 'sentiscore[{variant.runtime}]')")
        return Int8Attempt(f"{name}: {variant.runtime} not installed", False, 0.0, 0.0, variant=name)
    STATIC_MAKERS[name](raw, out / variant.model_file, feeds)
    result = gate(out / variant.model_file, variant.runtime)
    if not result.passed:
        for file in variant.files:
            (out / file).unlink(missing_ok=True)
    return Int8Attempt(f"{name}: {variant.how}", result.passed, result.accuracy_diff, result.label_agreement,
                       variant=name)


def parity_rows(run: RunFolder, data: str | None, split: str | None, max_rows: int | None) -> pd.DataFrame:
    """The rows to compare on: the run's own SPLIT as recorded (default: the gate's, RunFolder.agreement_rows:
    validation, then unlabelled training texts); or DATA, whole, or its SPLIT as the run's recipe splits a source."""
    if data is None:
        return run.rows(split, max_rows) if split else run.agreement_rows(max_rows)
    recipe = run.recipe()
    parts = labelled_parts(data, recipe_columns(recipe))
    if split in (None, "all"):
        rows = pd.concat(list(parts.values()), ignore_index=True)
    else:
        splits = make_splits(parts, recipe, data)
        if split not in splits:
            raise BadInput(f"--split {split}: unknown (use {', '.join(splits)} or all)")
        rows = splits[split]
    return rows.head(max_rows) if max_rows else rows


def parity(run: RunFolder | str | Path, data: str | None = None, split: str | None = None,
           limits: Thresholds | None = None, max_rows: int | None = None) -> ParityReport:
    """The PyTorch checkpoint against every ONNX variant of the run's export on the same rows; writes
    parity.json and report.md. RUN may be a cascade folder: the cascade against its teacher's checkpoint."""
    if max_rows is not None and max_rows < 1:
        raise BadInput(f"--max-rows {max_rows}: must be >= 1")
    if not isinstance(run, RunFolder) and CascadeFolder.holds(Path(run)):
        return cascade_parity(CascadeFolder(Path(run)), data, split, limits, max_rows)
    run, limits = _run(run), limits or Thresholds()
    folder = run.export_folder()
    rows = parity_rows(run, data, split, max_rows)
    texts, labels = rows["text"].tolist(), rows["label"].to_numpy()
    manifest = folder.manifest()
    encoder = Encoder.from_file(folder.path / "tokenizer.json", manifest.max_length, manifest.truncation)
    reference = torch_logits(run.checkpoint, encoder, texts)
    made = ParityReport.read(folder)  # export's record of the int8 variants it tried is kept
    report = ParityReport(len(rows), limits, reference_metrics(labels, reference, run.labels()),
                          check_folder(folder, texts, labels, reference, limits),
                          data=data or "recipe dataset", split=split or ("validation" if data is None else "all"),
                          int8_attempts=made.int8_attempts if made else [], labelled_rows=labelled(labels))
    report.write(folder)
    write_report(run)
    return report


def cascade_parity(folder: CascadeFolder, data: str | None = None, split: str | None = None,
                   limits: Thresholds | None = None, max_rows: int | None = None,
                   reference: np.ndarray | None = None) -> ParityReport:
    """The cascade (its default variants, files checked) against its teacher's PyTorch checkpoint on
    the teacher's rows, held to the int8 rule (accuracy and macro-F1 drop, every class); writes parity.json.
    REFERENCE: the checkpoint's logits on those rows, where the caller has them (the cascade stage gates
    each threshold it tries on the same validation rows: the teacher runs in PyTorch once)."""
    # no agreement floor: how often the cascade may differ from its teacher is what its threshold trades
    # for speed (chosen within --max-acc-drop), not a rounding error of one model
    limits = dataclasses.replace(limits or Thresholds(), min_quantised_agreement=0.0)
    teacher = folder.run()
    if teacher is None:
        raise BadInput(f"{folder.path}: its teacher run {folder.spec().teacher['run']} is gone; parity compares "
                       "with the teacher's PyTorch checkpoint")
    rows = parity_rows(teacher, data, split, max_rows)
    texts, labels = rows["text"].tolist(), rows["label"].to_numpy()
    if reference is None:
        manifest = folder.manifest()
        encoder = Encoder.from_file(folder.member("teacher").path / "tokenizer.json", manifest.max_length,
                                    manifest.truncation)
        reference = torch_logits(teacher.checkpoint, encoder, texts)
    _, variant = choose_variant(folder, "cpu", None, None)
    logits, by_teacher = scorer_logits(CascadeModel.load(folder.path, variant), texts)
    classes = teacher.labels()
    result = compare("cascade", logits, reference, labels, limits, classes)
    report = ParityReport(len(rows), limits, reference_metrics(labels, reference, classes),
                          {f"cascade {variant}": result}, data=data or "recipe dataset",
                          split=split or ("validation" if data is None else "all"),
                          teacher_share=float(by_teacher.sum()) / max(1, len(rows)), labelled_rows=labelled(labels))
    report.write(folder)
    return report
