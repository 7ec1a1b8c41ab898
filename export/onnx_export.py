"""Optimum's ONNX export, onnxruntime's graph fusions, and the manifest of an export folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sentiscore import log
from sentiscore.cpu import int8_features
from sentiscore.errors import CheckFailed, first_line
from sentiscore.manifest import VARIANTS, Manifest, file_hashes
from sentiscore.versions import package_versions

OPTIMIZE_LEVELS = ("O1", "O2", "O3")
# What onnxruntime's optimiser fused, counted in the fp32 graph: an encoder whose attention it could not
# fuse (no Attention node: MPNet) runs its attention as plain MatMul, Add and Softmax ops
FUSED_OPS = {"attention": ("Attention", "MultiHeadAttention"), "skip_layer_norm": ("SkipLayerNormalization",),
             "layer_norm": ("LayerNormalization",), "gelu": ("Gelu", "BiasGelu", "FastGelu"),
             "embed_layer_norm": ("EmbedLayerNormalization",)}
# Files about the model rather than of it; `parity` rewrites them, so they are not hashed.
UNHASHED = ("parity.json",)


def optimum_export(checkpoint: Path, raw: Path) -> None:
    """Optimum's export, with its own check that ONNX outputs match PyTorch's."""
    from optimum.exporters.onnx import main_export

    log.adopt_library_loggers()
    try:
        main_export(str(checkpoint), output=str(raw), task="text-classification", do_validation=True)
    except ValueError as exc:  # Optimum's validation failures are ValueError subclasses
        raise CheckFailed(f"{checkpoint}: Optimum's ONNX validation failed ({first_line(exc)})") from None


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
    shutil.copy2(optimise(raw, scratch / "opt", level), out / VARIANTS["fp32"].model_file)
    return raw


def tokenizer_settings(folder: Path) -> tuple[int, int]:
    """(max length, pad token id) of an export: the recipe's max length was saved in the tokenizer config."""
    config = json.loads((folder / "config.json").read_text())
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    return int(tok_config["model_max_length"]), int(config.get("pad_token_id") or 0)


def build_manifest(folder: Path, checkpoint: Path, level: str, int8_recipe: str | None, truncation: str = "head",
                   cpu_speed: dict[str, float] | None = None, calibration_ids: list[str] | None = None) -> Manifest:
    """The manifest of the files in FOLDER: every file hashed, the variants present, how to feed them,
    the CPU variants fastest first by CPU_SPEED (rows/s timed at export; none timed: int8, else fp32)."""
    import onnx

    model = onnx.load(str(folder / VARIANTS["fp32"].model_file), load_external_data=False)
    config = json.loads((folder / "config.json").read_text())
    max_length, pad_id = tokenizer_settings(folder)
    variants = [v for v, spec in VARIANTS.items() if all((folder / f).is_file() for f in spec.files)]
    cpu_speed = cpu_speed or {}
    order = sorted(cpu_speed, key=cpu_speed.get, reverse=True) or ["int8" if "int8" in variants else "fp32"]
    return Manifest(
        source_checkpoint=str(checkpoint),
        opset=max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        inputs=[i.name for i in model.graph.input],
        outputs=[o.name for o in model.graph.output],
        max_length=max_length,
        pad_token_id=pad_id,
        labels={str(k): v for k, v in config["id2label"].items()},
        variants=variants,
        default_cpu_variant=order[0],
        default_cuda_variant="fp16" if "fp16" in variants else "fp32",
        graph_optimization=level,
        int8_recipe=int8_recipe,
        files=file_hashes(folder, UNHASHED),
        versions=package_versions(),
        truncation=truncation,
        cpu_order=order,
        cpu_speed=cpu_speed,
        calibration_ids=calibration_ids or [],
        export_cpu=int8_features(),
        fused=fused_ops(model),
    )


def fused_ops(model) -> dict[str, int]:
    """How many of each fused op (FUSED_OPS) an ONNX graph holds, and its node count."""
    ops = [node.op_type for node in model.graph.node]
    return {"nodes": len(ops), **{name: sum(ops.count(t) for t in types) for name, types in FUSED_OPS.items()}}
