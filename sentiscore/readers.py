"""The one reader of every stage: training, parity and scoring read their data here.

Sources: a `.parquet`, `.csv` or `.jsonl` file (the FORMATS registry), a folder of them, `bundled`
(the sample shipped with the package) and `hub:NAME` (`datasets.load_dataset`, a hub name or a
local folder in the same schema). Every source is read in chunks of about CHUNK_ROWS rows, in file
order, never whole, under one set of rules:

- text: the text columns asked for, else `text`, else Amazon Polarity's `title` + `content`;
  several columns are joined with ". ", skipping null or empty parts. A null, blank or non-string
  text, or a null id, makes a bad row: training fails on it; scoring skips and counts it, or fails
  with --on-bad-row fail.
- id: the id column (named, it must exist; by default `id` where the file has it) as a string,
  else the row number in its file (`PART:row` where a training source has several parts: files of
  a folder, splits of a hub dataset); `Chunk.row_number_ids` says which.
- label: read where the label column exists (in a JSON Lines file, where a line has it): a class
  index 0..N-1 (a number or its string) or a class name (`negative`, `positive`, any case; the
  model's or the recipe's names, `Columns.labels`). A missing label is
  None, an unusable one INVALID_LABEL: training fails on either; scoring leaves both out of the
  metrics and counts the unusable ones.
- group: the column a recipe source names, else `review_id` or `movie` where present: rows a split
  must keep together.

Only the columns used are read from Parquet and CSV files (an embedding column costs nothing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sentiscore.errors import BadInput, first_line, io_failure
from sentiscore.labels import DEFAULT, name_index

if TYPE_CHECKING:  # pandas only for the labelled tables below: a scoring job never imports it (0.3 s)
    import pandas as pd

CHUNK_ROWS = 8192
INVALID_LABEL = -1  # a label that is there but is neither 0/1 nor a label name
# pyarrow reads CSV in blocks and cannot parse a row longer than one: start at 4 MB, grow to this
MAX_CSV_BLOCK = 1 << 28
# Amazon Polarity names its text `title` + `content`; everything else here names it `text`.
DEFAULT_TEXT_COLUMNS = (("text",), ("title", "content"))
# Columns that tie rows together (sentences of one review, snippets of one film): split by them.
GROUP_COLUMNS = ("review_id", "movie")
BUNDLED = "bundled"
HUB = "hub:"


def bundled_path() -> Path:
    """The bundled sample: 2,985 labelled Amazon review sentences (data/README.md)."""
    return Path(str(resources.files("sentiscore.data").joinpath("amazon_review_sentences.parquet")))


# ---- formats: each reads one file as raw frames of about CHUNK_ROWS rows, in file order ----
# A frame is column name -> that column's values as Python objects (None where null), one per row.
# `select` gets the file's column names and returns those to read (formats that know them up front).

Frame = dict[str, list]
Select = Callable[[list[str]], list[str]]


def _parquet_frames(path: Path, select: Select) -> Iterator[Frame]:
    import pyarrow.parquet as pq

    # pyarrow pre-buffers whole files by default: peak RSS then grew with the file (+96 MB of
    # Arrow memory reading 1M rows); buffered column reads keep it at about 12 MB for any size
    parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    columns = select(parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=columns, use_threads=False):
        yield batch.to_pydict()


def _parquet_rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return None  # the reader reports it, with the file's name


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: a byte-order mark is not a name
        return next(csv.reader(f), [])


def _csv_frames(path: Path, select: Select) -> Iterator[Frame]:
    import pyarrow.csv as pacsv

    columns = select(_csv_header(path))
    # every column as string: ids like "007" keep their zeros, labels are checked by the rules;
    # only an empty unquoted field is null: a review that says "NULL" or "NA" is text
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in columns}, include_columns=columns,
                                   null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False)
    block, done = 1 << 22, 0
    while True:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block, skip_rows_after_names=done),
                                convert_options=options, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        try:
            for batch in reader:
                done += batch.num_rows
                yield batch.to_pydict()
            return
        except pa.ArrowInvalid as exc:  # a row longer than the block: read on from it with larger blocks
            if "straddl" not in str(exc) or block >= MAX_CSV_BLOCK:
                raise
            block *= 4


def _json_frame(rows: list[dict]) -> Frame:
    """Rows as columns: every key any row has, in order of first appearance; None where a row lacks it.
    Values stay as JSON gave them (an id 7 stays 7 beside a null, not 7.0)."""
    names = dict.fromkeys(name for row in rows for name in row)
    return {name: [row.get(name) for row in rows] for name in names}


def _jsonl_frames(path: Path, select: Select) -> Iterator[Frame]:
    rows: list[dict] = []
    # -sig: a file that starts with a UTF-8 byte-order mark (Windows tools write one) reads as it should
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BadInput(f"{path}: line {number} is JSON but not an object ({type(row).__name__}); "
                               "each line must be one row like {\"id\": ..., \"text\": ...}")
            rows.append(row)
            if len(rows) == CHUNK_ROWS:
                yield _json_frame(rows)
                rows = []
    if rows:
        yield _json_frame(rows)


@dataclass(frozen=True)
class Format:
    """How to read one file type: raw frames in file order, and its row count where the file knows it."""

    frames: Callable[[Path, Select], Iterator[Frame]]
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
    """The entries of a folder with a data suffix, sorted by name (hidden ones left out). Not checked:
    an entry may be a folder (Spark writes folders named x.parquet), a dangling link or a FIFO;
    `check_file` says so for each."""
    return sorted(p for p in folder.iterdir() if p.suffix in FORMATS and not p.name.startswith("."))


def check_file(path: Path) -> None:
    """Refuse, in one line, an input that is not a regular readable data file: never open a FIFO (the
    read would wait forever) or a folder."""
    import stat

    if path.is_symlink() and not path.exists():
        raise BadInput(f"{path}: a symbolic link to {os.readlink(path)}, which does not exist")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise io_failure(str(path), exc, BadInput) from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{path}: a folder, not a file (Spark writes folders named like files: score the folder "
                       "as an INPUT of its own)")
    if not stat.S_ISREG(mode):
        raise BadInput(f"{path}: not a regular file (a FIFO, socket or device); not reading it")
    if path.suffix not in FORMATS:
        raise BadInput(f"{path}: unsupported file type {path.suffix!r} (use {_suffixes()})")
    if not os.access(path, os.R_OK):
        raise BadInput(f"{path}: not readable (permission denied)")


def expand_inputs(specs: list[str]) -> list[str]:
    """Files, folders (their data files, sorted), `bundled` and hub:NAME, in the order given; every
    file checked by `check_file`; a folder with no data file is bad input."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if spec.startswith(HUB):
            out.append(spec)
        elif spec == BUNDLED:
            out.append(str(bundled_path()))
        elif path.is_dir():
            files = files_in(path)
            if not files:
                raise BadInput(f"{path}: folder holds no {_suffixes()} file")
            for file in files:
                check_file(file)
            out.extend(str(p) for p in files)
        elif path.exists() or path.is_symlink():
            check_file(path)
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
        raise BadInput(f"hub:{name}: cannot load {what} ({type(exc).__name__}: {first_line(exc)})") from None


def hub_splits(name: str) -> list[str]:
    return list(_hub_dataset(name).keys())


def row_count(spec: str) -> int | None:
    """Rows of an input where the file tells it up front (for the progress bar), else None."""
    fmt = FORMATS.get(Path(spec).suffix) if not spec.startswith(HUB) else None
    return fmt.count_rows(Path(spec)) if fmt else None


def _frames(spec: str, split: str | None, select: Select) -> Iterator[Frame]:
    if spec.startswith(HUB):
        yield from _hub_dataset(spec[len(HUB):], split or "test").iter(batch_size=CHUNK_ROWS)
        return
    yield from FORMATS[Path(spec).suffix].frames(Path(spec), select)


# ---- the rules ----

@dataclass(frozen=True)
class Columns:
    """Which columns hold the text (None: `text`, else title + content), the id (None: `id` where the
    input has it, else row numbers; a name: that column, which must exist) and the label."""

    text: tuple[str, ...] | None = None
    id: str | None = None
    label: str = "label"
    group: str | None = None  # rows a split keeps together; None: the first of GROUP_COLUMNS present
    domain: str | None = None  # a column naming each row's domain (labelled tables keep it as `domain`)
    labels: tuple[str, ...] = DEFAULT  # the class names: a label is an index into them or one of them


@dataclass
class Chunk:
    """Consecutive rows of one input: `start` is the row number of the first. An id is None where the
    row has none; a label None where the row has none, INVALID_LABEL where it is unusable
    (`label_errors`: the first such (row, value)); labels None where the chunk has no label column."""

    start: int
    ids: list[str | None]
    texts: list[object]
    labels: list[int | None] | None
    groups: list[str] | None = None
    domains: list[str] | None = None
    row_number_ids: bool = False
    label_errors: list[tuple[int, object]] | None = None


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


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def join_text(parts: list[list]) -> list[object]:
    """Each row's text: one column as it is (a non-string stays what it is, for `bad_row`), or several
    joined with '. ', skipping null or empty parts."""
    if len(parts) == 1:
        return [None if _is_null(v) else v for v in parts[0]]
    rows = zip(*parts)
    joined = [". ".join(str(v) for v in row if not _is_null(v) and str(v) != "") for row in rows]
    return [t if t else None for t in joined]


def _ids(column: list) -> list[str | None]:
    return [None if _is_null(v) else str(v) for v in column]


BAD_ROW_WHAT = {"null_id": "no id", "null_text": "no text", "empty_text": "an empty text",
                "text_not_string": "a text that is not a string"}


def bad_row(row_id: str | None, text: object) -> str | None:
    """Why a row cannot be scored or learned from (a key of BAD_ROW_WHAT), or None."""
    if row_id is None:
        return "null_id"
    if text is None:
        return "null_text"
    if not isinstance(text, str):
        return "text_not_string"
    return "empty_text" if not text.strip() else None


def bad_row_message(source: str, row: int, row_id: str | None, reason: str) -> str:
    return f"{source}: row {row} (id {row_id}) has {BAD_ROW_WHAT[reason]}"


def label_value(value: object, names: dict[str, int], classes: int) -> int | None:
    """A label as a class index: 0..CLASSES-1 (a number or its string) or a class name of NAMES (any
    case); None where there is none, INVALID_LABEL where it is something else."""
    if _is_null(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in names:
            return names[text.lower()]
        try:
            value = float(text)
        except ValueError:
            return INVALID_LABEL
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return INVALID_LABEL
    return int(value) if value in range(classes) else INVALID_LABEL


def _labels(values: list, labels: tuple[str, ...], start: int) -> tuple[list[int | None], list]:
    names = name_index(labels)
    read = [label_value(v, names, len(labels)) for v in values]
    errors = [(start + i, values[i]) for i, v in enumerate(read) if v == INVALID_LABEL][:1]
    return read, errors


def expected_labels(labels: tuple[str, ...]) -> str:
    """What a label column may hold, for error lines: `0..2 or negative/neutral/positive`."""
    return f"0..{len(labels) - 1} or {'/'.join(labels)}"


def read_chunks(spec: str, columns: Columns = Columns(), split: str | None = None,
                id_prefix: str = "") -> Iterator[Chunk]:
    """Chunks of (ids, texts, labels, groups) of one input; any read failure is one line naming it:
    BadInput, or Transient for an I/O error that may pass (the same command may then succeed)."""
    import csv

    start = 0
    first: dict = {}  # decided on the first frame: the text columns, and the id column or row numbers

    def select(names: list[str]) -> list[str]:
        """Decide the text and id columns from the first column names seen (a format's schema, else the
        first frame's); return the columns to read."""
        if not first:
            if columns.id is not None and columns.id not in names:
                raise BadInput(f"{spec}: no id column {columns.id!r} (columns: {', '.join(names)})")
            first.update(text=resolve_text_columns(names, columns.text, spec),
                         id=columns.id or ("id" if "id" in names else None))
        extra = [columns.id or "id", columns.label, *([columns.group] if columns.group else GROUP_COLUMNS),
                 *([columns.domain] if columns.domain else [])]
        return list(dict.fromkeys([*first["text"], *(c for c in extra if c in names)]))

    try:
        for frame in _frames(spec, split, select):
            names = list(frame)
            if not first:  # JSON Lines and hub datasets name their columns only with the first frame
                select(names)
            for col in first["text"]:
                if col not in names:
                    raise BadInput(f"{spec}: rows from {start} have no column {col!r}")
            n = len(frame[first["text"][0]])
            id_col = first["id"]
            if id_col is None:
                ids = [f"{id_prefix}{start + i}" for i in range(n)]
            else:
                ids = _ids(frame[id_col]) if id_col in names else [None] * n
            labels, errors = _labels(frame[columns.label], columns.labels, start) if columns.label in names \
                else (None, None)
            group = next((c for c in ([columns.group] if columns.group else GROUP_COLUMNS) if c in names), None)
            groups = [str(v) for v in frame[group]] if group else None
            if columns.domain and columns.domain not in names:
                raise BadInput(f"{spec}: no domain column {columns.domain!r} (columns: {', '.join(names)})")
            domains = [str(v) for v in frame[columns.domain]] if columns.domain else None
            yield Chunk(start, ids, join_text([frame[c] for c in first["text"]]), labels, groups, domains,
                        row_number_ids=id_col is None, label_errors=errors)
            start += n
    except BadInput:
        raise
    except UnicodeDecodeError as exc:
        raise BadInput(f"{spec}: invalid UTF-8 near byte {exc.start} (after row {start})") from None
    except OSError as exc:
        if exc.errno is not None:  # the system's own I/O error: transient or not by its errno
            raise io_failure(f"{spec}: cannot read after row {start}", exc, BadInput,
                             "retry: committed windows are kept") from None
        raise BadInput(f"{spec}: unreadable after row {start} ({first_line(exc)})") from None
    except (pa.ArrowException, ValueError, csv.Error) as exc:
        detail = first_line(exc)
        what = "invalid UTF-8" if "UTF8" in detail or "UTF-8" in detail else "unreadable"
        raise BadInput(f"{spec}: {what} after row {start} ({detail})") from None


# ---- labelled tables, for training and parity ----

def labelled_table(spec: str, columns: Columns, split: str | None = None, id_prefix: str = "") -> pd.DataFrame:
    """A whole labelled input as id/text/label (+ group): every row must have a text and a label."""
    import pandas as pd

    frames = []
    for chunk in read_chunks(spec, columns, split, id_prefix):
        if chunk.labels is None:
            raise BadInput(f"{spec}: no label column {columns.label!r}")
        if chunk.label_errors:
            row, value = chunk.label_errors[0]
            raise BadInput(f"{spec}: row {row} has label {value!r}, expected {expected_labels(columns.labels)} "
                           f"in column {columns.label!r}")
        for i, text in enumerate(chunk.texts):
            if reason := bad_row(chunk.ids[i], text):
                raise BadInput(bad_row_message(spec, chunk.start + i, chunk.ids[i], reason))
            if chunk.labels[i] is None:
                raise BadInput(f"{spec}: row {chunk.start + i} (id {chunk.ids[i]}) has no label")
        frame = pd.DataFrame({"id": chunk.ids, "text": chunk.texts, "label": np.array(chunk.labels, np.int64)})
        if chunk.groups is not None:
            frame["group"] = chunk.groups
        if chunk.domains is not None:
            frame["domain"] = chunk.domains
        frames.append(frame)
    if not frames:
        raise BadInput(f"{spec}: no rows")
    return pd.concat(frames, ignore_index=True)


def text_table(spec: str, columns: Columns = Columns()) -> pd.DataFrame:
    """An input's usable rows (id, text), labels or none: texts to score or distil on. Rows without an
    id or a usable text are left out."""
    import pandas as pd

    rows = [(chunk.ids[i], text) for chunk in read_chunks(spec, columns) for i, text in enumerate(chunk.texts)
            if bad_row(chunk.ids[i], text) is None]
    if not rows:
        raise BadInput(f"{spec}: no rows with a text")
    return pd.DataFrame(rows, columns=["id", "text"])

# A hub dataset's labelled splits, by the names datasets give them (IMDB's `unsupervised` has no labels).
HUB_SPLITS = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
              "test": "test"}


def labelled_parts(source: str, columns: Columns, id_prefix: str = "") -> dict[str, pd.DataFrame]:
    """A labelled SOURCE by part: a hub dataset's labelled splits (valid/dev named validation), or one
    part `all` for a file, a folder or `bundled`. Ids must be unique across parts: the run folder
    records its splits by id (row-number ids get ID_PREFIX and their part's name: `train:17`, `b.csv:17`)."""
    import pandas as pd

    if source.startswith(HUB):
        names = [s for s in hub_splits(source[len(HUB):]) if s in HUB_SPLITS]
        parts = {HUB_SPLITS[s]: labelled_table(source, columns, s, id_prefix=f"{id_prefix}{s}:") for s in names}
        if not parts:
            raise BadInput(f"{source}: no labelled split (train, validation or test)")
    else:
        specs = expand_inputs([source])
        prefixed = len(specs) > 1
        parts = {"all": pd.concat([labelled_table(s, columns, id_prefix=id_prefix + (f"{Path(s).name}:" if prefixed
                                                                                     else ""))
                                   for s in specs], ignore_index=True)}
    ids = pd.concat([part["id"] for part in parts.values()], ignore_index=True)
    duplicated = ids.duplicated()
    if duplicated.any():
        raise BadInput(f"{source}: id {ids[duplicated].iloc[0]} appears more than once (the run records its "
                       "splits by id)")
    return parts
