"""RUN_DIR/report.md: the one page a person reads instead of the JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from export.parity import format_table
from sentiscore import atomic


def _metrics_rows(metrics: dict) -> list[str]:
    rows = ["| model | split | accuracy | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    for who, key in (("fine-tuned", "finetuned"), ("TF-IDF + logistic regression", "baseline_tfidf_logreg")):
        for split in ("validation", "test"):
            m = metrics[key][split]
            rows.append(f"| {who} | {split} | {m['accuracy']:.4f} | {m['precision']:.4f} | {m['recall']:.4f} "
                        f"| {m['f1']:.4f} |")
    return rows


def write_report(run_dir: Path) -> Path:
    """Gather metrics.json, the plots, the manifest and parity.json into report.md."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    lines = [f"# Run report: {run_dir.name}", "",
             f"Recipe `{metrics['recipe']}`: model `{metrics['model']}`, data `{metrics['dataset']}`; "
             f"rows train {metrics['rows']['train']}, validation {metrics['rows']['validation']}, "
             f"test {metrics['rows']['test']}; trained in {metrics['train_seconds']:.0f} s on {metrics['device']}.",
             "", "## Metrics", "", *_metrics_rows(metrics), "",
             "![training and validation loss](loss.png) ![test confusion matrix](confusion.png)", ""]
    onnx = run_dir / "onnx"
    if (onnx / "manifest.json").is_file():
        manifest = json.loads((onnx / "manifest.json").read_text())
        lines += ["## ONNX variants", "", "| variant | file | size MB |", "|---|---|---|"]
        for variant, name in (("fp32", "model.onnx"), ("int8", "model.int8.onnx"), ("fp16", "model.fp16.onnx")):
            if name in manifest["files"]:
                lines.append(f"| {variant} | `{name}` | {manifest['files'][name]['bytes'] / 1e6:.1f} |")
        lines += ["", f"Graph optimisation {manifest['graph_optimization']}; int8 recipe: "
                  f"{manifest['int8_recipe'] or 'none passed the gate, fp32 is the CPU default'}; "
                  f"opset {manifest['opset']}; max length {manifest['max_length']}.", ""]
    if (onnx / "parity.json").is_file():
        parity = json.loads((onnx / "parity.json").read_text())
        verdict = "passed" if parity["passed"] else "FAILED"
        lines += [f"## Parity ({parity.get('data', '')}, split {parity.get('split', '')}, {parity['rows']} rows): "
                  f"{verdict}", "", format_table(parity), ""]
    path = run_dir / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
