"""int8 (dynamic, signed weights) and fp16 variants of the graph-optimised model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Int8Recipe:
    """One way to quantise; the gate tries them in order until one passes."""

    name: str
    per_channel: bool = False
    op_types: tuple[str, ...] | None = None  # None: every op onnxruntime can quantise dynamically
    keep_head_fp32: bool = False


# Fused first, then quantize_dynamic with signed int8 weights: the fastest path measured here.
# Per-channel weights first: as fast as per-tensor on this CPU, and on the default MiniLM its labels
# agree with PyTorch on 98.6% of test rows against 95.8% (bench/README.md).
INT8_RECIPES = (
    Int8Recipe("per-channel", per_channel=True),
    Int8Recipe("per-tensor"),
    Int8Recipe("per-channel, embeddings and head fp32", per_channel=True, op_types=("MatMul", "Attention"),
               keep_head_fp32=True),
)


def head_nodes(model_path: Path) -> list[str]:
    """Nodes of the classifier head and pooler, by their export names."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if "classifier" in n.name or "pooler" in n.name]


def quantize_int8(fp32_path: Path, out_path: Path, recipe: Int8Recipe) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=recipe.per_channel,
        op_types_to_quantize=list(recipe.op_types) if recipe.op_types else None,
        nodes_to_exclude=head_nodes(fp32_path) if recipe.keep_head_fp32 else None,
        # the fused graph's contrib ops carry no type information the quantiser can infer
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
