"""RUN_DIR/report.md: the one page a person reads instead of the JSON files."""

from __future__ import annotations

from pathlib import Path

from sentiscore import atomic
from sentiscore.export.gate import ParityReport
from sentiscore.manifest import MANIFEST, VARIANTS
from sentiscore.runs import ExportFolder, RunFolder, RunMetrics


def _metrics_rows(metrics: RunMetrics) -> list[str]:
    rows = ["| model | split | accuracy | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    for who, by_split in (("fine-tuned", metrics.finetuned), ("TF-IDF + logistic regression",
                                                             metrics.baseline_tfidf_logreg)):
        rows += [f"| {who} | {split} | {m.accuracy:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.f1:.4f} |"
                 for split, m in by_split.items()]
    return rows


def _source_rows(metrics: RunMetrics) -> list[str]:
    """Each source's rows per split and both models' test accuracy on its rows (several sources only)."""
    if len(metrics.sources) < 2:
        return []
    rows = ["## Test accuracy by source", "", "| source | read from | train | validation | test | fine-tuned "
            "| TF-IDF + LR |", "|---|---|---|---|---|---|---|"]
    rows += [f"| {name} | `{m.read}` | {m.rows['train']} | {m.rows['validation']} | {m.rows['test']} "
             f"| {m.finetuned.accuracy:.4f} | {m.baseline_tfidf_logreg.accuracy:.4f} |"
             for name, m in metrics.sources.items()]
    return [*rows, ""]


def _distillation_rows(metrics: RunMetrics) -> list[str]:
    """A student run (sentiscore distill): its teacher, what it kept, how closely it follows."""
    d = metrics.distillation
    if not d:
        return []
    teacher = d["teacher_onnx_fp32"]
    rows = ["## Distillation", "",
            f"Teacher `{d['teacher']}`: {d['layers']} of its {d['teacher_layers']} layers kept "
            f"({', '.join(map(str, d['kept']))}), {d['parameters']['student']:,} parameters against "
            f"{d['parameters']['teacher']:,}; temperature {d['temperature']}, alpha {d['alpha']}; "
            f"{d['rows']['labelled']} labelled rows, {d['rows'].get('augmented', 0)} variants of their texts and "
            f"{d['rows']['unlabeled']} unlabelled rows "
            f"({', '.join(f'`{s}`' for s in d['unlabeled_sources']) or 'none'}), the teacher's logits from its "
            f"fp32 ONNX export through the scorer ({d['teacher_scored_rows_per_s']} rows/s), kept in "
            "teacher_logits.parquet.",
            "", "| split | student accuracy | teacher accuracy (ONNX fp32) | agreement with the teacher |",
            "|---|---|---|---|"]
    rows += [f"| {split} | {metrics.finetuned[split].accuracy:.4f} | {teacher[split]['accuracy']:.4f} | {a:.2%} |"
             for split, a in d["agreement"].items()]
    return [*rows, ""]


def write_report(run: RunFolder) -> Path:
    """Gather metrics.json, the plots, the manifest and parity.json into report.md."""
    m = run.metrics()
    lines = [f"# Run report: {run.path.name}", "",
             f"Recipe `{m.recipe}`: model `{m.model}`, data `{m.dataset}`; rows train {m.rows['train']}, "
             f"validation {m.rows['validation']}, test {m.rows['test']}; trained in {m.train_seconds:.0f} s "
             f"on {m.device}.", "", "## Metrics", "", *_metrics_rows(m), "",
             *_source_rows(m), *_distillation_rows(m),
             "![training and validation loss](loss.png) ![test confusion matrix](confusion.png)",
             ""]
    folder = ExportFolder(run.onnx)
    if (folder.path / MANIFEST).is_file():
        manifest = folder.manifest()
        lines += ["## Variants", "", "| variant | runtime | how it was made | files | size MB | rows/s at export |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {VARIANTS[name].runtime} | {VARIANTS[name].how} | "
                  f"{', '.join(f'`{f}`' for f in VARIANTS[name].files)} | "
                  f"{sum(manifest.files[f]['bytes'] for f in VARIANTS[name].files) / 1e6:.1f} | "
                  f"{manifest.cpu_speed.get(name, '')} |" for name in manifest.variants]
        flags = ", ".join(manifest.export_cpu.get("int8_flags", [])) or "none"
        lines += ["", f"The scorer's CPU choice, fastest first as timed on the exporting machine "
                  f"({manifest.export_cpu.get('model') or 'unknown CPU'}; int8 instruction sets: {flags}): "
                  f"{', '.join(manifest.cpu_variants())}.",
                  f"Graph optimisation {manifest.graph_optimization}; int8 recipe: "
                  f"{manifest.int8_recipe or 'none passed the gate'}; "
                  f"opset {manifest.opset}; max length {manifest.max_length}, truncation {manifest.truncation}.", ""]
    parity = ParityReport.read(folder)
    if parity is not None:
        verdict = "passed" if parity.passed else "FAILED"
        lines += [f"## Parity ({parity.data}, split {parity.split}, {parity.rows} rows): {verdict}", "",
                  parity.table(), ""]
    path = run.path / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
