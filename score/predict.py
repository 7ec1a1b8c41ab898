"""Score one window: drop bad rows (counted), tokenise, sort, batch, run, restore order.

The one scoring function of every engine: the local engine and the Ray actors both call it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sentiscore import arrow
from sentiscore.cascade import CascadeModel
from sentiscore.errors import BadInput
from sentiscore.labels import prob_columns
from sentiscore.onnx_model import OnnxModel
from sentiscore.readers import INVALID_LABEL, bad_row, bad_row_message
from sentiscore.score.batching import Window, plan_batches

ON_BAD_ROW = ("skip", "fail")
OUTSIDE_SPLIT = "outside_split"
NON_FINITE = "non_finite_logits"  # the model gave NaN or inf for the row: no label is better than label 0


@dataclass(frozen=True)
class Settings:
    """How windows are cut and batched; part of a job's identity, so a resume batches identically."""

    window_rows: int = 2048  # rows sorted together: long enough that lengths cluster, small in memory
    token_budget: int = 1024  # small batches stay in cache: fastest and smallest here (bench/README.md)
    max_batch_rows: int = 256  # caps a batch of very short texts
    on_bad_row: str = "skip"

    def __post_init__(self) -> None:
        for name, flag in (("window_rows", "--window-rows"), ("token_budget", "--token-budget"),
                           ("max_batch_rows", "--batch-size")):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise BadInput(f"{flag} {getattr(self, name)}: must be a positive integer")
        if self.on_bad_row not in ON_BAD_ROW:
            raise BadInput(f"--on-bad-row {self.on_bad_row}: use {' or '.join(ON_BAD_ROW)}")


@dataclass
class Prepared:
    window: Window
    keep: np.ndarray
    ids: list[list[int]]
    batches: list[np.ndarray]
    skipped: dict[str, int]


def prepare(model: OnnxModel | CascadeModel, window: Window, settings: Settings, source: str) -> Prepared:
    """Tokenise and plan the batches of a window (CPU work that overlaps the previous window's inference)."""
    excluded = set(window.excluded)
    reasons = {i: bad_row(window.ids[i], t) for i, t in enumerate(window.texts) if i not in excluded}
    bad = {i: r for i, r in reasons.items() if r}
    if settings.on_bad_row == "fail" and bad:
        row = min(bad)
        raise BadInput(bad_row_message(source, window.start + row, window.ids[row], bad[row]) + " (--on-bad-row fail)")
    keep = np.array([i for i in reasons if i not in bad], dtype=np.int64)
    ids = model.encode([window.texts[i] for i in keep]) if len(keep) else []
    skipped: dict[str, int] = {}
    for reason in (*bad.values(), *[OUTSIDE_SPLIT] * len(excluded)):
        skipped[reason] = skipped.get(reason, 0) + 1
    return Prepared(window, keep, ids, batches_of(model, ids, settings), skipped)


def batches_of(model: OnnxModel | CascadeModel, ids: list[list[int]], settings: Settings) -> list[np.ndarray]:
    """Positions in IDS of each batch: sorted by padded width, within the token budget."""
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    return plan_batches(model.padded_width(lengths), settings.token_budget, settings.max_batch_rows)


def run_batches(model: OnnxModel, ids: list[list[int]], batches: list[np.ndarray]) -> np.ndarray:
    """Logits of rows IDS, batch by batch, in the rows' order."""
    logits = np.zeros((len(ids), len(model.labels)), dtype=np.float32)
    for batch in batches:
        logits[batch] = model.run(model.pad([ids[i] for i in batch]))
    return logits


def window_logits(model: OnnxModel | CascadeModel, texts: list[str], ids: list[list[int]],
                  batches: list[np.ndarray], settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Logits of one window's rows (TEXTS, tokenised as IDS, in BATCHES), and which of them the teacher
    scored (a cascade: the student's doubtful rows, tokenised by the teacher's own tokenizer, sorted and
    batched again for it, so it too pads only to its own rows)."""
    teacher = np.zeros(len(ids), dtype=bool)
    if not isinstance(model, CascadeModel):
        return run_batches(model, ids, batches), teacher
    logits = run_batches(model.student, ids, batches)
    doubtful = model.route(logits)
    if len(doubtful):
        teacher_ids = model.teacher.encode([texts[i] for i in doubtful])
        logits[doubtful] = run_batches(model.teacher, teacher_ids, batches_of(model.teacher, teacher_ids, settings))
        teacher[doubtful] = True
    return logits, teacher


def scorer_logits(model: OnnxModel | CascadeModel, texts: list[str],
                  settings: Settings = Settings()) -> tuple[np.ndarray, np.ndarray]:
    """(logits, rows the teacher scored) of TEXTS in their order, windowed, sorted and batched exactly as
    `score` runs a file holding these rows in this order: an int8 row's logits depend on its batch-mates,
    so the parity gate checks these, the ones the scorer writes, and not another batching's."""
    logits, by_teacher = [np.zeros((0, len(model.labels)), dtype=np.float32)], [np.zeros(0, dtype=bool)]
    for start in range(0, len(texts), settings.window_rows):
        window_texts = texts[start:start + settings.window_rows]
        ids = model.encode(window_texts)
        window, teacher = window_logits(model, window_texts, ids, batches_of(model, ids, settings), settings)
        logits.append(window)
        by_teacher.append(teacher)
    return np.concatenate(logits), np.concatenate(by_teacher)


def infer(model: OnnxModel | CascadeModel, prepared: Prepared, settings: Settings,
          source: str) -> tuple[pa.Table, dict]:
    """Run the batches; return the window's predictions in input order and its counts (with the hash of
    the model that scored it: the stage checks it is the job's)."""
    logits, by_teacher = window_logits(model, [prepared.window.texts[i] for i in prepared.keep], prepared.ids,
                                       prepared.batches, settings)
    window, skipped, keep = prepared.window, dict(prepared.skipped), prepared.keep
    finite = np.isfinite(logits).all(axis=1)
    if not finite.all():
        row = int(keep[np.flatnonzero(~finite)[0]])
        if settings.on_bad_row == "fail":
            raise BadInput(f"{source}: row {window.start + row} (id {window.ids[row]}): the model gave NaN or "
                           "infinite logits (--on-bad-row fail; try --precision fp32)")
        skipped[NON_FINITE] = skipped.get(NON_FINITE, 0) + int((~finite).sum())
        keep, logits, by_teacher = keep[finite], logits[finite], by_teacher[finite]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    truth = [window.labels[i] for i in keep] if window.labels is not None else [None] * len(keep)
    invalid = sum(t == INVALID_LABEL for t in truth)
    truth = [None if t == INVALID_LABEL else t for t in truth]
    known = np.array([t is not None for t in truth], bool)
    columns = {
        "id": arrow.strings([window.ids[i] for i in keep]),
        "label": arrow.numbers(logits.argmax(axis=1).astype(np.int8)),
        **probability_columns(probs, model.labels),
        # null where the row has no usable label
        "label_true": arrow.numbers(np.array([t or 0 for t in truth], np.int8), known),
    }
    if isinstance(model, CascadeModel):
        columns["scored_by"] = arrow.strings(np.where(by_teacher, "teacher", "student").tolist())
    tokens = int(sum(len(x) for x in prepared.ids))
    padded = int(sum(len(b) * model.padded_width(max(len(prepared.ids[i]) for i in b)) for b in prepared.batches))
    stats = {"rows": len(keep), "skipped": skipped, "tokens": tokens, "padded_tokens": padded,
             "batches": len(prepared.batches), "labelled": int(known.sum()),
             "invalid_labels": invalid, "row_number_ids": window.row_number_ids, "model_hash": model.model_hash}
    if isinstance(model, CascadeModel):
        stats["teacher_rows"] = int(by_teacher.sum())
    return pa.table(columns), stats


def probability_columns(probs: np.ndarray, labels: tuple[str, ...]) -> dict[str, pa.Array]:
    """Two classes: the second's probability (`prob_positive`, as before labels were data); more:
    `confidence` (the winning probability) and every class's (labels.prob_columns)."""
    names = prob_columns(labels)
    if len(labels) == 2:
        return {names[0]: arrow.numbers(probs[:, 1])}
    return {"confidence": arrow.numbers(probs.max(axis=1)),
            **{name: arrow.numbers(probs[:, i]) for i, name in enumerate(names)}}


def output_schema(labels: tuple[str, ...]) -> pa.Schema:
    """The output's columns for a model with LABELS, as infer writes them (an empty input's output)."""
    return pa.table({"id": arrow.strings([]), "label": arrow.numbers(np.zeros(0, np.int8)),
                     **probability_columns(np.zeros((0, len(labels)), np.float32), labels)}).schema


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


def score_window(model: OnnxModel | CascadeModel, window: Window, settings: Settings,
                 source: str) -> tuple[pa.Table, dict]:
    return infer(model, prepare(model, window, settings, source), settings, source)
