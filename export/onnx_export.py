"""Export a run's checkpoint with Optimum, optimise the graph, add int8/fp16 variants and a manifest."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from export.parity import parity, rows_of_run, torch_logits
from export.quantize import INT8_RECIPES, quantize_int8
from sentiscore import atomic, manifest
from sentiscore.errors import BadInput, CheckFailed
from sentiscore.onnx_model import VARIANT_FILES, load_tokenizer
from sentiscore.versions import package_versions

OPTIMIZE_LEVELS = ("O1", "O2", "O3")
# Files about the model rather than of it; `parity` rewrites them, so they are not hashed.
UNHASHED = ("parity.json",)


def optimum_export(checkpoint: Path, raw: Path) -> None:
    """Optimum's export, with its own check that ONNX outputs match PyTorch's."""
    from optimum.exporters.onnx import main_export

    try:
        main_export(str(checkpoint), output=str(raw), task="text-classification", do_validation=True)
    except ValueError as exc:  # Optimum's validation failures are ValueError subclasses
        raise CheckFailed(f"{checkpoint}: Optimum's ONNX validation failed ({str(exc).splitlines()[0]})") from None


def optimise(raw: Path, out: Path, level: str, fp16: bool = False) -> Path:
    """Graph fusions with ORTOptimizer (fp16: the GPU-oriented fusions plus fp16 weights; the CPU
    graph keeps LayerNormalization and its residual Add apart, see bench/README.md)."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    config = getattr(AutoOptimizationConfig, level)()
    if fp16:
        config.optimize_for_gpu, config.fp16 = True, True
    else:
        # onnxruntime 1.32's CPU SkipLayerNormalization kernel is 6x slower here than the Add + Add +
        # LayerNormalization it replaces (25% of the int8 model's time): leave the CPU graph unfused
        config.disable_skip_layer_norm_fusion = config.disable_bias_skip_layer_norm_fusion = True
    ORTOptimizer.from_pretrained(str(raw)).optimize(save_dir=str(out), optimization_config=config)
    return out / "model_optimized.onnx"


def export_fp32(checkpoint: Path, scratch: Path, out: Path, level: str) -> Path:
    """Optimum's export into SCRATCH/raw, then OUT gets its config and tokenizer files and the fused
    fp32 graph as model.onnx; returns the raw export (the fp16 variant starts from it too)."""
    raw = scratch / "raw"
    optimum_export(checkpoint, raw)
    for f in raw.iterdir():
        if f.name != "model.onnx":
            shutil.copy2(f, out / f.name)
    shutil.copy2(optimise(raw, scratch / "opt", level), out / VARIANT_FILES["fp32"])
    return raw


def write_manifest(folder: Path, checkpoint: Path, level: str, int8_recipe: str | None) -> dict:
    """manifest.json: every file with its sha256, opset, inputs, max length, labels, variants, versions."""
    import onnx

    model = onnx.load(str(folder / VARIANT_FILES["fp32"]), load_external_data=False)
    config = json.loads((folder / "config.json").read_text())
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    variants = [v for v, f in VARIANT_FILES.items() if (folder / f).is_file()]
    data = {
        "format": "sentiscore-export/1",
        "source_checkpoint": str(checkpoint),
        "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [i.name for i in model.graph.input],
        "outputs": [o.name for o in model.graph.output],
        "max_length": int(tok_config["model_max_length"]),
        "pad_token_id": int(config.get("pad_token_id") or 0),
        "labels": {str(k): v for k, v in config["id2label"].items()},
        "variants": variants,
        "default_cpu_variant": "int8" if "int8" in variants else "fp32",
        "default_cuda_variant": "fp16" if "fp16" in variants else "fp32",
        "graph_optimization": level,
        "int8_recipe": int8_recipe,
        "files": {name: meta for name, meta in manifest.file_hashes(folder).items() if name not in UNHASHED},
        "versions": package_versions(),
    }
    atomic.write_json(folder / manifest.MANIFEST, data)
    return data


def export(run_dir: Path, int8: bool = True, fp16: bool = False, level: str = "O2", overwrite: bool = False,
           gate_rows: int | None = None) -> dict:
    """Write RUN_DIR/onnx atomically, gated on the validation split; returns the gate's parity report.

    int8 recipes are tried in order until one passes the gate; if none does, the int8 file is left
    out and fp32 stays the CPU default (the report says so).
    """
    checkpoint = run_dir / "checkpoint"
    if not (checkpoint / "config.json").is_file():
        raise BadInput(f"{run_dir}: not a run folder (no checkpoint/config.json)")
    if level not in OPTIMIZE_LEVELS:
        raise BadInput(f"--optimize {level}: use one of {', '.join(OPTIMIZE_LEVELS)}")
    final = run_dir / "onnx"
    if final.exists() and not overwrite:
        raise BadInput(f"{final}: already exported (use --overwrite to replace it)")
    rows = rows_of_run(run_dir, split="validation", max_rows=gate_rows)

    with tempfile.TemporaryDirectory(prefix="sentiscore-export-") as scratch_dir, \
            atomic.atomic_dir(final, overwrite=overwrite) as tmp:
        scratch = Path(scratch_dir)
        raw = export_fp32(checkpoint, scratch, tmp, level)
        if fp16:
            shutil.copy2(optimise(raw, scratch / "fp16", level, fp16=True), tmp / VARIANT_FILES["fp16"])

        tokenizer = load_tokenizer(tmp, json.loads((tmp / "tokenizer_config.json").read_text())["model_max_length"])
        reference = torch_logits(checkpoint, tokenizer, rows["text"].tolist())
        attempts, chosen = [], None
        for recipe in INT8_RECIPES if int8 else ():
            quantize_int8(tmp / VARIANT_FILES["fp32"], tmp / VARIANT_FILES["int8"], recipe)
            write_manifest(tmp, checkpoint, level, recipe.name)
            result = parity(tmp, rows, reference, variants=["int8"])["variants"]["int8"]
            attempts.append({"recipe": recipe.name, "passed": result["passed"],
                             "accuracy_diff": result["accuracy_diff"], "label_agreement": result["label_agreement"]})
            if result["passed"]:
                chosen = recipe.name
                break
        if int8 and chosen is None:
            (tmp / VARIANT_FILES["int8"]).unlink()
        write_manifest(tmp, checkpoint, level, chosen)
        report = parity(tmp, rows, reference)
        report.update(data="recipe dataset", split="validation", int8_attempts=attempts,
                      int8_failed_every_recipe=bool(int8 and chosen is None))
        atomic.write_json(tmp / "parity.json", report)
    return report
