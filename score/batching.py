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
    `labels`: one per row (None: no label; INVALID_LABEL: unusable), None where the input has no label
    column; `excluded`: positions of rows left out by `score --split` (outside the run's split)."""

    input_index: int
    index: int
    start: int
    ids: list[str | None]
    texts: list[object]
    labels: list[int | None] | None
    excluded: list[int] = field(default_factory=list)
    row_number_ids: bool = False


def windows(chunks: Iterator[Chunk], input_index: int, size: int) -> Iterator[Window]:
    """Re-cut reader chunks (any size) into windows of exactly `size` rows at offsets 0, size, 2*size...
    Chunks with and without a label column mix (a JSON Lines file where only some lines have one): a
    row without is None."""
    ids: list[str | None] = []
    texts: list[object] = []
    labels: list[int | None] = []
    labelled = row_numbers = False
    index = 0
    for chunk in chunks:
        ids.extend(chunk.ids)
        texts.extend(chunk.texts)
        labels.extend(chunk.labels if chunk.labels is not None else [None] * len(chunk.ids))
        labelled = labelled or chunk.labels is not None
        row_numbers = chunk.row_number_ids
        while len(ids) >= size:
            yield Window(input_index, index, index * size, ids[:size], texts[:size],
                         labels[:size] if labelled else None, row_number_ids=row_numbers)
            ids, texts, labels = ids[size:], texts[size:], labels[size:]
            index += 1
    if ids:
        yield Window(input_index, index, index * size, ids, texts, labels if labelled else None,
                     row_number_ids=row_numbers)


def plan_batches(widths: np.ndarray, token_budget: int, max_rows: int) -> list[np.ndarray]:
    """Row indices of each batch: sorted by width (stable), each batch's padded size within budget.
    WIDTHS: the width each row pads to on its own (its token length, rounded up as the model pads)."""
    order = np.argsort(widths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        # sorted ascending, so the batch's padded width is the width of its last row
        while end < len(order) and end - start < max_rows and (end + 1 - start) * widths[order[end]] <= token_budget:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
