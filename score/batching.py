"""Fixed windows of rows, sorted by token length inside, cut into batches by a token budget.

Batches must be a pure function of the input: dynamic int8 quantisation computes its activation
scale over the whole batch, so a row's logits depend on its batch-mates. Windows therefore start at
fixed row offsets of each input, the sort is stable, and a resumed job restarts at a window boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sentiscore.readers import Chunk


@dataclass
class Window:
    """WINDOW_ROWS consecutive rows of one input (the last window of an input may be shorter).
    `excluded`: positions of rows left out by `score --split` (outside the run's split)."""

    input_index: int
    index: int
    start: int
    ids: list[str]
    texts: list[str | None]
    labels: list[int] | None
    excluded: list[int] = field(default_factory=list)


def windows(chunks: Iterator[Chunk], input_index: int, size: int) -> Iterator[Window]:
    """Re-cut reader chunks (any size) into windows of exactly `size` rows at offsets 0, size, 2*size..."""
    ids: list[str] = []
    texts: list[str | None] = []
    labels: list[int] | None = None
    index = 0
    for chunk in chunks:
        ids.extend(chunk.ids)
        texts.extend(chunk.texts)
        if chunk.labels is not None:
            labels = (labels or []) + chunk.labels
        while len(ids) >= size:
            yield Window(input_index, index, index * size, ids[:size], texts[:size],
                         labels[:size] if labels is not None else None)
            ids, texts = ids[size:], texts[size:]
            labels = labels[size:] if labels is not None else None
            index += 1
    if ids:
        yield Window(input_index, index, index * size, ids, texts, labels)


def plan_batches(lengths: np.ndarray, token_budget: int, max_rows: int) -> list[np.ndarray]:
    """Row indices of each batch: sorted by length (stable), each batch's padded size within budget."""
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        # sorted ascending, so the batch's padded width is the length of its last row
        while end < len(order) and end - start < max_rows and (end + 1 - start) * lengths[order[end]] <= token_budget:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
