"""Score one window: drop rows without text (counted), tokenise, sort, batch, run, restore order.

The one scoring function of every engine: the local loop and the Ray actors both call it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from score.batching import Window, plan_batches
from sentiscore.errors import BadInput
from sentiscore.onnx_model import OnnxModel


@dataclass(frozen=True)
class Settings:
    """How windows are cut and batched; part of a job's identity, so a resume batches identically."""

    window_rows: int = 2048
    token_budget: int = 1024  # small batches stay in cache: fastest and smallest here (bench/README.md)
    max_batch_rows: int = 256
    on_bad_row: str = "skip"


@dataclass
class Prepared:
    window: Window
    keep: np.ndarray
    ids: list[list[int]]
    batches: list[np.ndarray]
    skipped: dict[str, int]


def prepare(model: OnnxModel, window: Window, settings: Settings, source: str) -> Prepared:
    """Tokenise and plan the batches of a window (CPU work that overlaps the previous window's inference)."""
    null = [i for i, t in enumerate(window.texts) if t is None]
    empty = [i for i, t in enumerate(window.texts) if t is not None and not t.strip()]
    if settings.on_bad_row == "fail" and (null or empty):
        row = min(null + empty)
        raise BadInput(f"{source}: row {window.start + row} (id {window.ids[row]}) has "
                       f"{'no' if row in null else 'an empty'} text (--on-bad-row fail)")
    bad = set(null) | set(empty)
    keep = np.array([i for i in range(len(window.texts)) if i not in bad], dtype=np.int64)
    ids = model.encode([window.texts[i] for i in keep]) if len(keep) else []
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    skipped = {k: v for k, v in (("null_text", len(null)), ("empty_text", len(empty))) if v}
    return Prepared(window, keep, ids, plan_batches(lengths, settings.token_budget, settings.max_batch_rows),
                    skipped)


def infer(model: OnnxModel, prepared: Prepared) -> tuple[pa.Table, dict]:
    """Run the batches; return the window's predictions in input order and its counts."""
    logits = np.zeros((len(prepared.ids), 2), dtype=np.float32)
    for batch in prepared.batches:
        logits[batch] = model.run(model.pad([prepared.ids[i] for i in batch]))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = (shifted[:, 1] / shifted.sum(axis=1)).astype(np.float32)
    window = prepared.window
    columns = {
        "id": pa.array([window.ids[i] for i in prepared.keep], pa.string()),
        "label": pa.array(logits.argmax(axis=1).astype(np.int8)),
        "prob_positive": pa.array(prob),
    }
    if window.labels is not None:
        columns["label_true"] = pa.array(np.asarray(window.labels, dtype=np.int8)[prepared.keep])
    tokens = int(sum(len(x) for x in prepared.ids))
    padded = int(sum(len(b) * max(len(prepared.ids[i]) for i in b) for b in prepared.batches))
    stats = {"rows": len(prepared.keep), "skipped": prepared.skipped, "tokens": tokens, "padded_tokens": padded,
             "batches": len(prepared.batches)}
    return pa.table(columns), stats


def _libc_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS after a window. Without it glibc's per-thread arenas
    (onnxruntime's and the tokeniser thread's) fragment, and peak RSS crept up with input size."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def score_window(model: OnnxModel, window: Window, settings: Settings, source: str) -> tuple[pa.Table, dict]:
    return infer(model, prepare(model, window, settings, source))
