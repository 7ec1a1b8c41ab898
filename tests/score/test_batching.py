"""Windows fall on fixed row offsets whatever the reader's chunks; batches keep within the budget."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiscore.readers import Chunk
from sentiscore.score.batching import plan_batches, windows


def chunks_of(n: int, size: int) -> list[Chunk]:
    return [Chunk(s, [str(i) for i in range(s, min(n, s + size))], [f"t{i}" for i in range(s, min(n, s + size))],
                  [i % 2 for i in range(s, min(n, s + size))]) for s in range(0, n, size)]


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000])
def test_windows_do_not_depend_on_chunk_sizes(chunk_rows):
    got = list(windows(iter(chunks_of(150, chunk_rows)), input_index=3, size=64))
    assert [(w.input_index, w.index, w.start, len(w.ids)) for w in got] == [(3, 0, 0, 64), (3, 1, 64, 64),
                                                                             (3, 2, 128, 22)]
    assert [i for w in got for i in w.ids] == [str(i) for i in range(150)]
    assert got[2].labels == [i % 2 for i in range(128, 150)] and got[2].texts[0] == "t128"


@given(lengths=st.lists(st.integers(1, 128), min_size=1, max_size=300), budget=st.integers(1, 4096),
       max_rows=st.integers(1, 64))
def test_batches_cover_every_row_once_within_budget(lengths, budget, max_rows):
    lengths = np.array(lengths)
    batches = plan_batches(lengths, budget, max_rows)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= max_rows
        assert len(b) == 1 or len(b) * lengths[b].max() <= budget  # a single row may exceed it
    order = np.concatenate(batches)
    assert (np.diff(lengths[order]) >= 0).all()  # sorted by length
    ties = [i for i in order if lengths[i] == lengths[order[0]]]
    assert ties == sorted(ties)  # stable: equal lengths keep input order
