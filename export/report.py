"""RUN_DIR/report.md: the one page a person reads instead of the JSON files."""

from __future__ import annotations

from pathlib import Path

from sentiscore import atomic
from sentiscore.export.gate import ParityReport
from sentiscore.manifest import MANIFEST, VARIANTS
from sentiscore.runs import ExportFolder, RunFolder, RunMetrics


def _metrics_rows(metrics: RunMetrics) -> list[str]:
    """Both models on validation and test; precision, recall and F1 are the positive class's for two
    classes, macro averages for more."""
    if not metrics.finetuned:
        return ["No labelled rows: the model was not evaluated (give labelled rows: `sentiscore import --data`)."]
    rows = ["| model | split | accuracy | macro-F1 | precision | recall | F1 |", "|---|---|---|---|---|---|---|"]
    who = "imported" if metrics.recipe == "import" else "fine-tuned"
    for name, by_split in ((who, metrics.finetuned), ("TF-IDF + logistic regression", metrics.baseline_tfidf_logreg)):
        rows += [f"| {name} | {split} | {m.accuracy:.4f} | {m.macro_f1:.4f} | {m.precision:.4f} | {m.recall:.4f} "
                 f"| {m.f1:.4f} |" for split, m in by_split.items()]
    return rows


def _class_rows(metrics: RunMetrics) -> list[str]:
    """Each class's precision, recall, F1 and support on the test split (three classes or more)."""
    test = metrics.finetuned.get("test")
    if test is None or len(test.per_class) < 3:
        return []
    rows = ["## Test metrics by class", "", "| class | precision | recall | F1 | rows |", "|---|---|---|---|---|"]
    rows += [f"| {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
             for name, c in test.per_class.items()]
    return [*rows, ""]


def _source_rows(metrics: RunMetrics) -> list[str]:
    """Each source's (or domain's) rows per split and both models' test accuracy and macro-F1 on its rows
    (several sources or domains only)."""
    if len(metrics.sources) < 2:
        return []
    rows = ["## Test metrics by source", "", "| source | read from | train | validation | test | fine-tuned accuracy "
            "| TF-IDF + LR accuracy | fine-tuned macro-F1 | TF-IDF + LR macro-F1 |",
            "|---|---|---|---|---|---|---|---|---|"]
    rows += [f"| {name} | `{m.read}` | {m.rows['train']} | {m.rows['validation']} | {m.rows['test']} "
             f"| {m.finetuned.accuracy:.4f} | {m.baseline_tfidf_logreg.accuracy:.4f} | {m.finetuned.macro_f1:.4f} "
             f"| {m.baseline_tfidf_logreg.macro_f1:.4f} |" for name, m in metrics.sources.items()]
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
             f"validation {m.rows['validation']}, test {m.rows['test']}; "
             + ("imported with `sentiscore import`, not trained here." if m.recipe == "import" else
                f"trained in {m.train_seconds:.0f} s on {m.device}."), "", "## Metrics", "", *_metrics_rows(m), "",
             *_class_rows(m), *_source_rows(m), *_distillation_rows(m),
             " ".join(f"![{what}]({png})" for what, png in (("training and validation loss", "loss.png"),
                                                            ("test confusion matrix", "confusion.png"))
                      if (run.path / png).is_file()),
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
        lines += [f"## Parity ({parity.data}, split {parity.split}): {verdict}", "", parity.rows_line() + ".", "",
                  parity.table(), ""]
    path = run.path / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
