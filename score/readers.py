"""Streaming readers: Parquet, CSV and JSON Lines files, folders of them, and hub dataset splits.

Each input yields chunks of (ids, texts, labels) in file order, never the whole file at once.
Text columns and ids follow the same rules as the training data (sentiscore.data).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from sentiscore.data import SUFFIXES, files_in, join_text, resolve_text_columns
from sentiscore.errors import BadInput

CHUNK_ROWS = 8192


@dataclass
class Chunk:
    """Consecutive rows of one input: `start` is the row number of the first."""

    start: int
    ids: list[str]
    texts: list[str | None]
    labels: list[int] | None


@dataclass
class Columns:
    text: list[str] | None = None
    id: str = "id"
    label: str = "label"


def expand_inputs(specs: list[str]) -> list[str]:
    """Files, folders (their data files, sorted) and hub:NAME specs, in the order given."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if spec.startswith("hub:"):
            out.append(spec)
        elif path.is_dir():
            out.extend(str(p) for p in files_in(path))
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                raise BadInput(f"{path}: unsupported file type {path.suffix!r} (use .parquet, .csv or .jsonl)")
            out.append(spec)
        else:
            raise BadInput(f"{spec}: no such file or folder")
    return out


def _frames(spec: str, split: str | None) -> Iterator[pd.DataFrame]:
    """Raw frames of CHUNK_ROWS rows (the last may be shorter), in file order."""
    if spec.startswith("hub:"):
        import datasets

        try:
            ds = datasets.load_dataset(spec[4:], split=split or "test", streaming=True)
            yield from (pd.DataFrame(batch) for batch in ds.iter(batch_size=CHUNK_ROWS))
        except (FileNotFoundError, ValueError, ConnectionError) as exc:
            raise BadInput(f"{spec}: cannot load split {split or 'test'} ({exc})") from None
        return
    path = Path(spec)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        # pyarrow pre-buffers whole files by default: peak RSS then grew with the file (+96 MB of
        # Arrow memory reading 1M rows); buffered column reads keep it at about 12 MB for any size
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, use_threads=False):
            yield batch.to_pandas()
    elif path.suffix == ".csv":
        import pyarrow.csv as pacsv

        # every column as string: ids like "007" keep their zeros, labels are checked below
        with open(path, "rb") as f:
            names = pacsv.open_csv(f, read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names
        # only an empty unquoted field is null: a review that says "NULL" or "NA" is text
        options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                       strings_can_be_null=True, quoted_strings_can_be_null=False)
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22), convert_options=options,
                                parse_options=pacsv.ParseOptions(newlines_in_values=True))
        for batch in reader:
            yield batch.to_pandas()
    else:
        rows: list[dict] = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise BadInput(f"{path}: line {number} is not JSON ({exc.msg})") from None
                if len(rows) == CHUNK_ROWS:
                    yield pd.DataFrame(rows)
                    rows = []
        if rows:
            yield pd.DataFrame(rows)


def read_chunks(spec: str, columns: Columns, split: str | None = None) -> Iterator[Chunk]:
    """Chunks of (ids, texts, labels) of one input; any read failure is one line naming the input."""
    start = 0
    text_cols = None
    try:
        for frame in _frames(spec, split):
            names = [str(c) for c in frame.columns]
            text_cols = text_cols or resolve_text_columns(names, columns.text, spec)
            for col in text_cols:
                if col not in names:
                    raise BadInput(f"{spec}: rows from {start} have no column {col!r}")
            texts = join_text([frame[c] for c in text_cols]).tolist()
            n = len(frame)
            ids = (frame[columns.id].astype(str).tolist() if columns.id in names
                   else [str(start + i) for i in range(n)])
            labels = _labels(frame[columns.label], spec, start) if columns.label in names else None
            yield Chunk(start, ids, texts, labels)
            start += n
    except BadInput:
        raise
    except UnicodeDecodeError as exc:
        raise BadInput(f"{spec}: invalid UTF-8 near byte {exc.start} (after row {start})") from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        what = "invalid UTF-8" if "UTF8" in detail or "UTF-8" in detail else "unreadable"
        raise BadInput(f"{spec}: {what} after row {start} ({detail})") from None


def _labels(column: pd.Series, spec: str, start: int) -> list[int]:
    values = pd.to_numeric(column, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        row = start + int(bad.to_numpy().nonzero()[0][0])
        raise BadInput(f"{spec}: row {row} has label {column.iloc[row - start]}, expected 0 or 1")
    return values.astype(int).tolist()


def row_count(spec: str) -> int | None:
    """Rows of a Parquet file from its footer (for the progress bar); None where unknown up front."""
    if spec.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(spec).metadata.num_rows
        except (OSError, pa.ArrowException):
            return None  # the reader reports it, with the file's name
    return None
