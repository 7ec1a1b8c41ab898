"""A peer contender in a process of its own, so that its peak RSS is its own.

    python bench/contenders.py {transformers,optimum,optimum-intel} MODEL_DIR DATA.parquet OUT.json [ONNX_FILE]

transformers: `transformers.pipeline("text-classification")` on PyTorch (fp32, torch's default threads).
optimum: Optimum's `ORTModelForSequenceClassification` (ONNX_FILE in MODEL_DIR) in Optimum's pipeline.
optimum-intel: Optimum-Intel's `OVModelForSequenceClassification` (its int8 OpenVINO model in MODEL_DIR,
bench/models.py) in a transformers pipeline, as Optimum-Intel's documentation shows, compiled in f32.
Both run with batch_size=32, truncation at 128 tokens, as their documentation shows. One batch is
run first (not timed), as `sentiscore score` warms its session up before scoring.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd

BATCH, MAX_LENGTH = 32, 128


def load(kind: str, model_dir: str, onnx_file: str | None):
    if kind == "transformers":
        from transformers import pipeline

        return pipeline("text-classification", model=model_dir, device=-1)
    if kind == "optimum-intel":
        from optimum.intel import OVModelForSequenceClassification
        from transformers import AutoTokenizer, pipeline

        # f32 as the scorer compiles (sentiscore.onnx_model.openvino_config): on a bf16 CPU (AMX) OpenVINO's
        # default would run this contender's float parts in bf16, a different precision from the scorer's.
        model = OVModelForSequenceClassification.from_pretrained(
            model_dir, ov_config={"INFERENCE_PRECISION_HINT": "f32"})
        return pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(model_dir))
    from optimum.onnxruntime import ORTModelForSequenceClassification, pipeline

    model = ORTModelForSequenceClassification.from_pretrained(model_dir, file_name=onnx_file)
    return pipeline("text-classification", model=model, tokenizer=model_dir)


def predict(kind: str, model_dir: str, texts: list[str], onnx_file: str | None = None) -> dict:
    """Load contender KIND, run one batch untimed, then label TEXTS: load and scoring seconds, labels."""
    started = time.perf_counter()
    pipe = load(kind, model_dir, onnx_file)
    pipe(texts[:BATCH], batch_size=BATCH, truncation=True, max_length=MAX_LENGTH)
    ready = time.perf_counter()
    outputs = pipe(texts, batch_size=BATCH, truncation=True, max_length=MAX_LENGTH)
    finished = time.perf_counter()
    label2id = pipe.model.config.label2id
    return {"load_s": round(ready - started, 3), "scoring_s": round(finished - ready, 3),
            "predictions": [int(label2id[o["label"]]) for o in outputs]}


def main() -> None:
    kind, model_dir, data, out = sys.argv[1:5]
    onnx_file = sys.argv[5] if len(sys.argv) > 5 else None
    result = predict(kind, model_dir, pd.read_parquet(data, columns=["text"])["text"].tolist(), onnx_file)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
