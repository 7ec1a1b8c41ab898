"""Static int8: activation scales fixed once from calibration rows of the run's own training split,
so a row's logits no longer depend on its batch-mates and no scale is computed at run time.

Two makers, each a function (Optimum's raw export, output file, calibration batches):
onnxruntime's QDQ quantisation, and OpenVINO's NNCF (the optional `openvino` extra). Both go
through the same parity gate as the dynamic int8; a variant that fails it is not kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore.onnx_model import OnnxModel, openvino_telemetry_off
from sentiscore.score.predict import Settings, batches_of

CALIBRATION_ROWS = 300  # NNCF's default subset is 300 samples; "a few hundred" is what both makers advise
CALIBRATION_SEED = 0

Feeds = list[dict[str, np.ndarray]]


def calibration_rows(train: pd.DataFrame) -> pd.DataFrame:
    """A fixed sample of the training split (ids are recorded in the manifest)."""
    return train.sample(n=min(CALIBRATION_ROWS, len(train)), random_state=CALIBRATION_SEED)


def scorer_batches(model: OnnxModel, texts: list[str]) -> Feeds:
    """TEXTS cut, sorted and batched as the scorer batches them: calibrated and timed on what it will run."""
    ids = model.encode(texts)
    return [model.pad([ids[i] for i in batch]) for batch in batches_of(model, ids, Settings())]


def onnxruntime_qdq(raw: Path, out: Path, feeds: Feeds) -> None:
    """onnxruntime's static QDQ int8 of the MatMuls (uint8 activations, int8 per-channel weights),
    from Optimum's unfused export: on the fused graph onnxruntime turns the QDQ MatMuls into weight-only
    MatMulNBits (fp32 arithmetic) and quantises inside Attention nothing (bench/README.md)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    prepared = out.with_suffix(".pre.onnx")
    quant_pre_process(str(raw / "model.onnx"), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=["MatMul"])
    finally:
        prepared.unlink(missing_ok=True)


def openvino_nncf(raw: Path, out: Path, feeds: Feeds) -> None:
    """NNCF's post-training int8 (transformer preset: SmoothQuant, attention included, fast bias
    correction) of Optimum's unfused export, saved as OpenVINO IR (OUT .xml and its .bin). Unfused, not
    onnxruntime's fused graph: OpenVINO fuses its own, and the result scored review-length texts 8% faster
    on a VNNI Xeon (short ones 9% slower) and every text set 8-13% faster on an AMX Xeon (README)."""
    import contextlib
    import io
    import logging

    with openvino_telemetry_off():
        import nncf
        import openvino as ov

    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):  # NNCF's progress bars (rich) print to stdout
        quantized = nncf.quantize(ov.Core().read_model(str(raw / "model.onnx")), nncf.Dataset(feeds),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds))
    ov.save_model(quantized, str(out), compress_to_fp16=False)


# variant name -> its maker; tried in this order after the dynamic int8
STATIC_MAKERS: dict[str, Callable[[Path, Path, Feeds], None]] = {
    "int8-static": onnxruntime_qdq,
    "openvino-int8": openvino_nncf,
}


def interleaved_speed(models: dict[str, OnnxModel], texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Rows per second of each model over TEXTS, best of ROUNDS passes taken round-robin (A, B, C, A, B,
    C...) after one warm-up pass each: a slow minute of a shared host then slows every model alike, and
    the order, which is what the scorer uses, holds. Each model runs the batches the scorer gives it (its
    runtime's padding: OpenVINO's widths are rounded up, onnxruntime's are not)."""
    feeds = {name: scorer_batches(model, texts) for name, model in models.items()}
    for name, model in models.items():
        for feed in feeds[name]:
            model.run(feed)
    best = dict.fromkeys(models, float("inf"))
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            for feed in feeds[name]:
                model.run(feed)
            best[name] = min(best[name], time.perf_counter() - started)
    rows = len(texts)
    return {name: round(rows / seconds, 1) for name, seconds in best.items()}
