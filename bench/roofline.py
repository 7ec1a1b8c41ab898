"""This CPU's limit through each runtime itself, and a BERT's work per review.

The limit is a large MatMul (2048 x 1024 by 1024 x 1024, weights constant) run by onnxruntime with
the scorer's session settings, in fp32 and after `quantize_dynamic` with QInt8 and QUInt8 weights
(activations quantised on the fly, as in the scorer's int8 model); and, where OpenVINO is installed,
the same MatMul after NNCF's static int8, through OpenVINO (the OpenVINO variant's limit). The same in
int8 for MiniLM's own shapes (a 1024-token batch by 384 x 384 and 384 x 1536 weights) shows how much
of the limit such narrow products can reach.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sentiscore.onnx_model import openvino_config, openvino_telemetry_off, session_options

LARGE = (2048, 1024, 1024)
MINILM_SHAPES = ((1024, 384, 384), (1024, 384, 1536), (1024, 1536, 384))


def matmul_model(path: Path, m: int, k: int, n: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = (np.random.default_rng(0).standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(weights, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def ops_per_second(path: Path, shape: tuple[int, int, int], threads: int, repeats: int = 30) -> float:
    """Median multiply-adds x 2 per second over REPEATS runs, after 5 warm-up runs."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    m, k, n = shape
    feed = {"a": np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 2 * m * k * n / statistics.median(times)


def measure(shape: tuple[int, int, int], threads: int, weight_type=None) -> float:
    """GOP/s of one MatMul shape: fp32 (weight_type None) or after quantize_dynamic with WEIGHT_TYPE."""
    from onnxruntime.quantization import quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matmul.onnx"
        matmul_model(path, *shape)
        if weight_type is not None:
            quantize_dynamic(str(path), str(path.with_name("int8.onnx")), weight_type=weight_type)
            path = path.with_name("int8.onnx")
        return round(ops_per_second(path, shape, threads) / 1e9, 1)


def openvino_int8(shape: tuple[int, int, int], threads: int, repeats: int = 30) -> float | None:
    """GOP/s of one MatMul shape after NNCF's static int8, compiled by OpenVINO (None: not installed)."""
    import contextlib
    import importlib.util
    import io

    if importlib.util.find_spec("openvino") is None:
        return None
    with openvino_telemetry_off():
        import nncf
        import openvino as ov

    m, k, n = shape
    feed = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matmul.onnx"
        matmul_model(path, *shape)
        with contextlib.redirect_stdout(io.StringIO()):
            quantized = nncf.quantize(ov.Core().read_model(str(path)), nncf.Dataset([{"a": feed}]), subset_size=1)
    compiled = ov.Core().compile_model(quantized, "CPU", openvino_config(threads))  # as the scorer compiles
    request = compiled.create_infer_request()
    for _ in range(5):
        request.infer({0: feed})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        request.infer({0: feed})
        times.append(time.perf_counter() - start)
    return round(2 * m * k * n / statistics.median(times) / 1e9, 1)


def limits(threads: int) -> dict:
    """GOP/s of the large MatMul in fp32 and int8 (QInt8 and QUInt8 weights), and of MiniLM's shapes in int8."""
    from onnxruntime.quantization import QuantType

    m, k, n = LARGE
    return {"shape": f"{m}x{k} @ {k}x{n}", "threads": threads, "fp32_gops": measure(LARGE, threads),
            "int8_gops": measure(LARGE, threads, QuantType.QInt8),
            "int8_quint8_weights_gops": measure(LARGE, threads, QuantType.QUInt8),
            "openvino_int8_gops": openvino_int8(LARGE, threads),
            "minilm_shapes_int8_gops": {f"{m}x{k} @ {k}x{n}": measure((m, k, n), threads, QuantType.QInt8)
                                        for m, k, n in MINILM_SHAPES}}


def ops_per_review(config: dict, length: float) -> float:
    """Multiply-adds x 2 of one review padded to LENGTH tokens: the encoder's dense layers
    (Q, K, V, output, two feed-forward) plus attention's two products; embeddings and the head
    are negligible. MiniLM-L6 at 128 tokens: 2.9 GOP; bert-base: 22.4 GOP."""
    width, layers, ffn = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    per_token = 2 * (4 * width * width + 2 * width * ffn) + 2 * 2 * length * width
    return layers * length * per_token


if __name__ == "__main__":  # a child process of bench.run, which stays small
    print(json.dumps(limits(len(os.sched_getaffinity(0)))))
