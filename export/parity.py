"""The parity gate: the PyTorch checkpoint and every ONNX variant on the same rows, same tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore import manifest
from sentiscore.data import load_splits
from sentiscore.errors import BadInput
from sentiscore.metrics import binary_metrics
from sentiscore.onnx_model import VARIANT_FILES, OnnxModel, pad_batch
from sentiscore.recipe import load_recipe

BATCH = 64
METRICS = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class Thresholds:
    """The contract's defaults: fp32 agrees on >= 99.9% of labels; int8/fp16 lose <= 0.5 points."""

    min_agreement: float = 0.999
    max_acc_drop_pp: float = 0.5


def rows_of_run(run_dir: Path, split: str, source: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """The rows of SPLIT of the run's data set (same seed, same split), or of another SOURCE."""
    recipe_path = run_dir / "recipe.toml"
    if not recipe_path.is_file():
        raise BadInput(f"{run_dir}: not a run folder (no recipe.toml)")
    recipe = load_recipe(str(recipe_path))
    splits = load_splits(source or recipe.dataset, recipe.seed, recipe.text_columns or None, recipe.label_column)
    if split == "all":
        rows = pd.concat(list(splits.values()), ignore_index=True)
    elif split in splits:
        rows = splits[split]
    else:
        raise BadInput(f"--split {split}: unknown (use {', '.join(splits)} or all)")
    return rows.head(max_rows) if max_rows else rows


def batches(ids: list[list[int]]) -> list[slice]:
    return [slice(i, i + BATCH) for i in range(0, len(ids), BATCH)]


def torch_logits(checkpoint: Path, tokenizer, texts: list[str]) -> np.ndarray:
    """PyTorch logits for `texts`, tokenised and batched exactly as the ONNX side is."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=True).eval()
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    pad_id = model.config.pad_token_id or 0
    out = []
    with torch.inference_mode():
        for part in batches(ids):
            feeds = pad_batch(ids[part], pad_id)
            out.append(model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits.float().numpy())
    return np.concatenate(out)


def compare(name: str, logits: np.ndarray, reference: np.ndarray, labels: np.ndarray,
            limits: Thresholds) -> dict:
    """One variant against PyTorch: metrics, their differences, agreement, logit gap, pass/fail."""
    ref, pred = reference.argmax(-1), logits.argmax(-1)
    ref_m, m = binary_metrics(labels, ref), binary_metrics(labels, pred)
    result = {k: m[k] for k in (*METRICS, "confusion_matrix")}
    result.update({f"{k}_diff": m[k] - ref_m[k] for k in METRICS})
    result["label_agreement"] = float((ref == pred).mean())
    result["max_abs_logit_diff"] = float(np.abs(logits - reference).max())
    failures = []
    if len(np.unique(pred)) < 2:
        failures.append(f"predicts one class only ({int(pred[0])})")
    if name == "fp32" and result["label_agreement"] < limits.min_agreement:
        failures.append(f"label agreement {result['label_agreement']:.4f} < {limits.min_agreement}")
    if name != "fp32" and -result["accuracy_diff"] * 100 > limits.max_acc_drop_pp:
        failures.append(f"accuracy drop {-result['accuracy_diff'] * 100:.2f} points > {limits.max_acc_drop_pp}")
    result["failures"] = failures
    return result


def parity(folder: Path, rows: pd.DataFrame, reference: np.ndarray, variants: list[str] | None = None,
           limits: Thresholds = Thresholds()) -> dict:
    """Every variant of the export folder against the PyTorch `reference` logits of `rows`."""
    meta = manifest.read_manifest(folder)
    labels = rows["label"].to_numpy()
    report = {"rows": len(rows), "thresholds": asdict(limits),
              "pytorch": {k: v for k, v in binary_metrics(labels, reference.argmax(-1)).items()}, "variants": {}}
    for name in variants or meta["variants"]:
        file_name = VARIANT_FILES[name]
        model = OnnxModel(folder, variant=name, verify=False)
        ids = model.encode(rows["text"].tolist())
        logits = np.concatenate([model.run(model.pad(ids[part])) for part in batches(ids)])
        result = compare(name, logits, reference, labels, limits)
        result["file_bytes"] = (folder / file_name).stat().st_size
        if manifest.sha256_file(folder / file_name) != meta["files"][file_name]["sha256"]:
            result["failures"].insert(0, f"{file_name}: sha256 differs from manifest.json (altered after export)")
        result["passed"] = not result["failures"]
        report["variants"][name] = result
    report["passed"] = all(v["passed"] for v in report["variants"].values())
    return report


def format_table(report: dict) -> str:
    """The parity report as a Markdown table."""
    lines = ["| model | size MB | accuracy | Δ acc (pp) | precision | recall | F1 | ΔF1 (pp) | agreement "
             "| max abs logit diff | gate |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    p = report["pytorch"]
    lines.append(f"| PyTorch | | {p['accuracy']:.4f} | | {p['precision']:.4f} | {p['recall']:.4f} "
                 f"| {p['f1']:.4f} | | | | |")
    for name, v in report["variants"].items():
        gate = "pass" if v["passed"] else "FAIL: " + "; ".join(v["failures"])
        lines.append(f"| ONNX {name} | {v['file_bytes'] / 1e6:.1f} | {v['accuracy']:.4f} "
                     f"| {v['accuracy_diff'] * 100:+.2f} | {v['precision']:.4f} | {v['recall']:.4f} "
                     f"| {v['f1']:.4f} | {v['f1_diff'] * 100:+.2f} | {v['label_agreement'] * 100:.2f}% "
                     f"| {v['max_abs_logit_diff']:.2e} | {gate} |")
    return "\n".join(lines)
