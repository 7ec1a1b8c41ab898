"""The one reader of every stage: training, parity and scoring read their data here.

Sources: a `.parquet`, `.csv` or `.jsonl` file (the FORMATS registry), a folder of them, `bundled`
(the sample shipped with the package) and `hub:NAME` (`datasets.load_dataset`, a hub name or a
local folder in the same schema). Every source is read in chunks of about CHUNK_ROWS rows, in file
order, never whole, under one set of rules:

- text: the text columns asked for, else `text`, else Amazon Polarity's `title` + `content`;
  several columns are joined with ". ", skipping null or empty parts. A null or blank text makes a
  bad row: training fails on it; scoring skips and counts it, or fails with --on-bad-row fail.
- id: the id column as a string, else the row number in its file (`PART:row` where a training
  source has several parts: files of a folder, splits of a hub dataset).
- label: read where the label column exists; each value must be 0 or 1 (a number or its string).
- group: `review_id` or `movie` where present: rows a split must keep together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sentiscore.errors import BadInput

CHUNK_ROWS = 8192
# Amazon Polarity names its text `title` + `content`; everything else here names it `text`.
DEFAULT_TEXT_COLUMNS = (("text",), ("title", "content"))
# Columns that tie rows together (sentences of one review, snippets of one film): split by them.
GROUP_COLUMNS = ("review_id", "movie")
BUNDLED = "bundled"
HUB = "hub:"


def bundled_path() -> Path:
    """The bundled sample: 2,985 labelled Amazon review sentences (data/README.md)."""
    return Path(str(resources.files("sentiscore.data").joinpath("amazon_review_sentences.parquet")))


# ---- formats: each reads one file as raw pandas frames of about CHUNK_ROWS rows, in file order ----

def _parquet_frames(path: Path) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    # pyarrow pre-buffers whole files by default: peak RSS then grew with the file (+96 MB of
    # Arrow memory reading 1M rows); buffered column reads keep it at about 12 MB for any size
    parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, use_threads=False):
        yield batch.to_pandas()


def _parquet_rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return None  # the reader reports it, with the file's name


def _csv_frames(path: Path) -> Iterator[pd.DataFrame]:
    import pyarrow.csv as pacsv

    # every column as string: ids like "007" keep their zeros, labels are checked by the rules
    with open(path, "rb") as f:
        names = pacsv.open_csv(f, read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names
    # only an empty unquoted field is null: a review that says "NULL" or "NA" is text
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22), convert_options=options,
                            parse_options=pacsv.ParseOptions(newlines_in_values=True))
    for batch in reader:
        yield batch.to_pandas()


def _jsonl_frames(path: Path) -> Iterator[pd.DataFrame]:
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


@dataclass(frozen=True)
class Format:
    """How to read one file type: raw frames in file order, and its row count where the file knows it."""

    frames: Callable[[Path], Iterator[pd.DataFrame]]
    count_rows: Callable[[Path], int | None] = lambda path: None


FORMATS: dict[str, Format] = {
    ".parquet": Format(_parquet_frames, _parquet_rows),
    ".csv": Format(_csv_frames),
    ".jsonl": Format(_jsonl_frames),
}


def _suffixes() -> str:
    return ", ".join(FORMATS)


# ---- sources ----

def files_in(folder: Path) -> list[Path]:
    """The data files of a folder, sorted by name; a folder without any is bad input."""
    files = sorted(p for p in folder.iterdir() if p.suffix in FORMATS and not p.name.startswith("."))
    if not files:
        raise BadInput(f"{folder}: folder holds no {_suffixes()} file")
    return files


def expand_inputs(specs: list[str]) -> list[str]:
    """Files, folders (their data files, sorted), `bundled` and hub:NAME, in the order given."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if spec.startswith(HUB):
            out.append(spec)
        elif spec == BUNDLED:
            out.append(str(bundled_path()))
        elif path.is_dir():
            out.extend(str(p) for p in files_in(path))
        elif path.is_file():
            if path.suffix not in FORMATS:
                raise BadInput(f"{path}: unsupported file type {path.suffix!r} (use {_suffixes()})")
            out.append(spec)
        else:
            raise BadInput(f"{spec}: no such file or folder (use a {_suffixes()} file, a folder, "
                           f"'{BUNDLED}' or 'hub:NAME')")
    return out


def _hub_dataset(name: str, split: str | None = None):
    """`datasets.load_dataset(NAME)`: a DatasetDict, or one split's Dataset (memory-mapped from the cache)."""
    import datasets

    from sentiscore import log

    log.adopt_library_loggers()
    try:
        return datasets.load_dataset(name, split=split)
    except Exception as exc:  # the hub raises many types; the user needs one line
        what = f"split {split}" if split else "it"
        raise BadInput(f"hub:{name}: cannot load {what} ({type(exc).__name__}: {_first_line(exc)})") from None


def hub_splits(name: str) -> list[str]:
    return list(_hub_dataset(name).keys())


def row_count(spec: str) -> int | None:
    """Rows of an input where the file tells it up front (for the progress bar), else None."""
    fmt = FORMATS.get(Path(spec).suffix) if not spec.startswith(HUB) else None
    return fmt.count_rows(Path(spec)) if fmt else None


def _frames(spec: str, split: str | None) -> Iterator[pd.DataFrame]:
    if spec.startswith(HUB):
        for batch in _hub_dataset(spec[len(HUB):], split or "test").iter(batch_size=CHUNK_ROWS):
            yield pd.DataFrame(batch)
        return
    yield from FORMATS[Path(spec).suffix].frames(Path(spec))


# ---- the rules ----

@dataclass(frozen=True)
class Columns:
    """Which columns hold the text (None: `text`, else title + content), the id and the label."""

    text: tuple[str, ...] | None = None
    id: str = "id"
    label: str = "label"


@dataclass
class Chunk:
    """Consecutive rows of one input: `start` is the row number of the first."""

    start: int
    ids: list[str]
    texts: list[str | None]
    labels: list[int] | None
    groups: list[str] | None = None


def resolve_text_columns(columns: list[str], requested: tuple[str, ...] | None, where: str) -> list[str]:
    """The text columns to read: those requested, else `text`, else Amazon Polarity's title+content."""
    if requested:
        missing = [c for c in requested if c not in columns]
        if missing:
            raise BadInput(f"{where}: no text column {missing[0]!r} (columns: {', '.join(columns)})")
        return list(requested)
    for candidate in DEFAULT_TEXT_COLUMNS:
        if all(c in columns for c in candidate):
            return list(candidate)
    raise BadInput(f"{where}: no text column (looked for 'text' or 'title'+'content'; "
                   f"columns: {', '.join(columns)}); name one with --text-column")


def join_text(parts: list[pd.Series]) -> list[str | None]:
    """Each row's text: one column as it is, or several joined with '. ', skipping null or empty parts."""
    if len(parts) == 1:
        column = parts[0].astype("object")
        return column.where(column.notna(), None).tolist()
    rows = zip(*(p.astype("object").tolist() for p in parts))
    joined = [". ".join(str(v) for v in row if v is not None and v == v and str(v) != "") for row in rows]
    return [t if t else None for t in joined]


def bad_text(text: str | None) -> str | None:
    """Why a row's text cannot be scored or learned from (`null_text`, `empty_text`), or None."""
    if text is None:
        return "null_text"
    return "empty_text" if not text.strip() else None


def bad_row_message(source: str, row: int, row_id: str, reason: str) -> str:
    what = "no text" if reason == "null_text" else "an empty text"
    return f"{source}: row {row} (id {row_id}) has {what}"


def _labels(column: pd.Series, spec: str, start: int) -> list[int]:
    values = pd.to_numeric(column, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"{spec}: row {start + row} has label {column.iloc[row]}, expected 0 or 1 "
                       f"in column {column.name!r}")
    return values.astype(int).tolist()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_chunks(spec: str, columns: Columns = Columns(), split: str | None = None,
                id_prefix: str = "") -> Iterator[Chunk]:
    """Chunks of (ids, texts, labels, groups) of one input; any read failure is one line naming it."""
    start = 0
    text_cols = None
    try:
        for frame in _frames(spec, split):
            names = [str(c) for c in frame.columns]
            text_cols = text_cols or resolve_text_columns(names, columns.text, spec)
            for col in text_cols:
                if col not in names:
                    raise BadInput(f"{spec}: rows from {start} have no column {col!r}")
            n = len(frame)
            ids = (frame[columns.id].astype(str).tolist() if columns.id in names
                   else [f"{id_prefix}{start + i}" for i in range(n)])
            labels = _labels(frame[columns.label], spec, start) if columns.label in names else None
            group = next((c for c in GROUP_COLUMNS if c in names), None)
            groups = frame[group].astype(str).tolist() if group else None
            yield Chunk(start, ids, join_text([frame[c] for c in text_cols]), labels, groups)
            start += n
    except BadInput:
        raise
    except UnicodeDecodeError as exc:
        raise BadInput(f"{spec}: invalid UTF-8 near byte {exc.start} (after row {start})") from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        detail = _first_line(exc)
        what = "invalid UTF-8" if "UTF8" in detail or "UTF-8" in detail else "unreadable"
        raise BadInput(f"{spec}: {what} after row {start} ({detail})") from None


# ---- labelled tables, for training and parity ----

def labelled_table(spec: str, columns: Columns, split: str | None = None, id_prefix: str = "") -> pd.DataFrame:
    """A whole labelled input as id/text/label (+ group): every row must have a text and a label."""
    frames = []
    for chunk in read_chunks(spec, columns, split, id_prefix):
        if chunk.labels is None:
            raise BadInput(f"{spec}: no label column {columns.label!r}")
        for i, text in enumerate(chunk.texts):
            if reason := bad_text(text):
                raise BadInput(bad_row_message(spec, chunk.start + i, chunk.ids[i], reason))
        frame = pd.DataFrame({"id": chunk.ids, "text": chunk.texts, "label": np.array(chunk.labels, np.int64)})
        if chunk.groups is not None:
            frame["group"] = chunk.groups
        frames.append(frame)
    if not frames:
        raise BadInput(f"{spec}: no rows")
    return pd.concat(frames, ignore_index=True)


def labelled_parts(source: str, columns: Columns) -> dict[str, pd.DataFrame]:
    """A labelled SOURCE by part: a hub dataset's own splits (valid/dev named validation), or one part
    `all` for a file, a folder or `bundled`. Ids must be unique across parts: the run folder records
    its splits by id (row-number ids get their part's name: `train:17`, `b.csv:17`)."""
    if source.startswith(HUB):
        aliases = {"valid": "validation", "dev": "validation"}
        parts = {aliases.get(s, s): labelled_table(source, columns, s, id_prefix=f"{s}:")
                 for s in hub_splits(source[len(HUB):])}
    else:
        specs = expand_inputs([source])
        prefixed = len(specs) > 1
        parts = {"all": pd.concat([labelled_table(s, columns, id_prefix=f"{Path(s).name}:" if prefixed else "")
                                   for s in specs], ignore_index=True)}
    ids = pd.concat([part["id"] for part in parts.values()], ignore_index=True)
    duplicated = ids.duplicated()
    if duplicated.any():
        raise BadInput(f"{source}: id {ids[duplicated].iloc[0]} appears more than once (the run records its "
                       "splits by id)")
    return parts
