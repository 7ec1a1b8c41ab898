"""The scorer's Arrow arrays, built from buffers, equal what pa.array builds (without its pandas import)."""

import numpy as np
import pyarrow as pa

from sentiscore import arrow


def test_strings_equal_pa_array():
    values = ["7", "", "été", "🙂 two words", "x" * 10_000]
    built = arrow.strings(values)
    assert built.equals(pa.array(values, pa.string())) and built.to_pylist() == values
    assert arrow.strings([]).equals(pa.array([], pa.string()))


def test_numbers_keep_dtype_and_nulls():
    prob = np.array([0.25, 0.5, 1.0], np.float32)
    assert arrow.numbers(prob).equals(pa.array(prob))
    labels = np.array([1, 0, 0, 1, 1, 0, 1, 0, 1], np.int8)  # more than 8: the bitmap's second byte
    valid = np.array([True, False, True, True, True, True, True, True, False])
    built = arrow.numbers(labels, valid)
    assert built.type == pa.int8() and built.null_count == 2
    assert built.to_pylist() == [int(v) if ok else None for v, ok in zip(labels, valid)]
    assert arrow.numbers(labels[::2]).to_pylist() == labels[::2].tolist()  # a strided view is copied first
