"""int8 recipes: the ways to quantise the fused fp32 graph, tried in order until one passes the gate.

A new recipe is a function (fp32 file, int8 file) -> None and one line in INT8_RECIPES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sentiscore.export.gate import Int8Attempt, VariantParity


def head_nodes(model_path: Path) -> list[str]:
    """Nodes of the classifier head and pooler, by their export names."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if "classifier" in n.name or "pooler" in n.name]


def dynamic_int8(fp32_path: Path, out_path: Path, per_channel: bool, op_types: tuple[str, ...] | None = None,
                 keep_head_fp32: bool = False) -> None:
    """onnxruntime's dynamic quantisation with signed int8 weights (VNNI's fast path); activations are
    quantised per batch at run time. op_types None: every op it can quantise (embeddings included)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=per_channel,
        op_types_to_quantize=list(op_types) if op_types else None,
        nodes_to_exclude=head_nodes(fp32_path) if keep_head_fp32 else None,
        # the fused graph's contrib ops carry no type information the quantiser can infer
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


@dataclass(frozen=True)
class Int8Recipe:
    """One way to quantise; the gate tries the registry in order until one passes."""

    name: str
    quantize: Callable[[Path, Path], None]


# Per-channel weights first: as fast as per-tensor on this CPU, and on the default MiniLM its labels
# agree with PyTorch on 98.6% of test rows against 95.8% (bench/README.md). Last, the embeddings
# (a Gather, whose one outlier row can flatten every other row's int8 steps) and the head stay fp32.
INT8_RECIPES: tuple[Int8Recipe, ...] = (
    Int8Recipe("per-channel", partial(dynamic_int8, per_channel=True)),
    Int8Recipe("per-tensor", partial(dynamic_int8, per_channel=False)),
    Int8Recipe("per-channel, embeddings and head fp32",
               partial(dynamic_int8, per_channel=True, op_types=("MatMul", "Attention"), keep_head_fp32=True)),
)


def choose_int8(fp32_path: Path, out_path: Path, gate: Callable[[Path], VariantParity],
                recipes: tuple[Int8Recipe, ...] = INT8_RECIPES) -> tuple[str | None, list[Int8Attempt]]:
    """Quantise with each recipe in turn until GATE passes the result; (the recipe kept or None, every try).
    With none passing, OUT_PATH is removed: no int8 variant is better than a wrong one."""
    attempts = []
    for recipe in recipes:
        recipe.quantize(fp32_path, out_path)
        result = gate(out_path)
        attempts.append(Int8Attempt(recipe.name, result.passed, result.accuracy_diff, result.label_agreement))
        if result.passed:
            return recipe.name, attempts
    out_path.unlink(missing_ok=True)
    return None, attempts
