"""This CPU's limit through onnxruntime itself, and a BERT's work per review.

The limit is a large MatMul (2048 x 1024 by 1024 x 1024, weights constant) run by onnxruntime with
the scorer's session settings, in fp32 and after `quantize_dynamic` with QInt8 and QUInt8 weights
(activations quantised on the fly, as in the scorer's int8 model).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

M, K, N = 2048, 1024, 1024


def matmul_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = (np.random.default_rng(0).standard_normal((K, N)) / np.sqrt(K)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [M, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [M, N])],
        [numpy_helper.from_array(weights, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def ops_per_second(path: Path, threads: int, repeats: int = 30) -> float:
    """Median multiply-adds x 2 per second over REPEATS runs, after 5 warm-up runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"a": np.random.default_rng(1).standard_normal((M, K)).astype(np.float32)}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 2 * M * K * N / statistics.median(times)


def limits(threads: int) -> dict:
    """GOP/s of the large MatMul in fp32 and in int8 (QInt8 and QUInt8 weights)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "matmul.onnx"
        matmul_model(fp32)
        result = {"shape": f"{M}x{K} @ {K}x{N}", "threads": threads,
                  "fp32_gops": round(ops_per_second(fp32, threads) / 1e9, 1)}
        for name, weight_type in (("int8_gops", QuantType.QInt8), ("int8_quint8_weights_gops", QuantType.QUInt8)):
            quantised = Path(tmp) / f"{name}.onnx"
            quantize_dynamic(str(fp32), str(quantised), weight_type=weight_type)
            result[name] = round(ops_per_second(quantised, threads) / 1e9, 1)
    return result


def ops_per_review(config: dict, length: float) -> float:
    """Multiply-adds x 2 of one review padded to LENGTH tokens: the encoder's dense layers
    (Q, K, V, output, two feed-forward) plus attention's two products; embeddings and the head
    are negligible. MiniLM-L6 at 128 tokens: 2.9 GOP; bert-base: 22.4 GOP."""
    width, layers, ffn = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    per_token = 2 * (4 * width * width + 2 * width * ffn) + 2 * 2 * length * width
    return layers * length * per_token


if __name__ == "__main__":  # a child process of bench.run, which stays small
    print(json.dumps(limits(len(os.sched_getaffinity(0)))))
