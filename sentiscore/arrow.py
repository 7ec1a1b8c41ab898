"""Arrow arrays built from their buffers, and whole Parquet files read, for the scorer.

`pa.array`, `pa.scalar`, `pq.read_table` and `to_numpy` import pandas wherever it is installed
(pyarrow checks every input for a pandas type): 0.3-0.5 s of a one-row job's start-up on a 2-core
host, for a job that never touches pandas. These do the same without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def strings(values: list[str]) -> pa.StringArray:
    """A string array of VALUES (no nulls: the scorer's ids, sources and model names)."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def numbers(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A numeric array of VALUES' dtype; null where VALID (booleans, one per value) is False."""
    values = np.ascontiguousarray(values)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [bitmap, pa.py_buffer(values)],
                                 null_count=nulls)


def read_parquet(path: Path) -> pa.Table:
    """A whole Parquet file (`pq.read_table` goes through pyarrow.dataset, which imports pandas)."""
    return pq.ParquetFile(path).read()
