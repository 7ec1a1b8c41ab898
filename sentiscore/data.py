"""Data sources for fine-tuning and evaluation: hub datasets, local files, folders, the bundled sample.

Every source becomes the same thing: a dict of splits (train, validation, test), each a DataFrame
with columns `id` (str), `text` (str) and `label` (0/1). Sources without a validation or test split
are split here, deterministically from a seed, grouped so that one review never lands on two sides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore.errors import BadInput

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = REPO_ROOT / "data" / "amazon_review_sentences.parquet"
SUFFIXES = (".parquet", ".csv", ".jsonl")
# Columns that tie rows together (sentences of one review, snippets of one film): split by them.
GROUP_COLUMNS = ("review_id", "movie")
SPLITS = ("train", "validation", "test")
# Amazon Polarity names its text `title` + `content`; everything else here names it `text`.
DEFAULT_TEXT_COLUMNS = (("text",), ("title", "content"))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole Parquet, CSV or JSON Lines file; any failure is a one-line BadInput naming it."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise BadInput(f"{path}: unsupported file type {path.suffix!r} (use .parquet, .csv or .jsonl)")
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_json(path, lines=True, dtype={"id": str})
    except Exception as exc:  # each reader raises its own types; the user needs one line
        raise BadInput(f"{path}: unreadable ({type(exc).__name__}: {_first_line(exc)})") from None
    if frame.empty:
        raise BadInput(f"{path}: no rows")
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def resolve_text_columns(columns: list[str], requested: list[str] | None, where: str) -> list[str]:
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


def join_text(parts: list[pd.Series]) -> pd.Series:
    """Join several text columns row by row with '. ', skipping null or empty parts."""
    if len(parts) == 1:
        return parts[0].astype("object").where(parts[0].notna(), None)
    rows = zip(*(p.astype("object").tolist() for p in parts))
    joined = [". ".join(str(v) for v in row if v is not None and v == v and str(v) != "") for row in rows]
    return pd.Series([t if t else None for t in joined], index=parts[0].index, dtype="object")


def normalise(frame: pd.DataFrame, where: str, text_columns: list[str] | None = None,
              label_column: str = "label", id_column: str = "id") -> pd.DataFrame:
    """Reduce a raw table to id/text/label (+ group), checking every row; errors name the row."""
    columns = [str(c) for c in frame.columns]
    text_cols = resolve_text_columns(columns, text_columns, where)
    if label_column not in columns:
        raise BadInput(f"{where}: no label column {label_column!r} (columns: {', '.join(columns)})")
    text = join_text([frame[c] for c in text_cols])
    empty = text.isna() | (text.astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise BadInput(f"{where}: row {row} has no text in {'+'.join(text_cols)}")
    labels = pd.to_numeric(frame[label_column], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"{where}: row {row} has label {frame[label_column].iloc[row]}, "
                       f"expected 0 or 1 in column {label_column!r}")
    ids = frame[id_column].astype(str) if id_column in columns else pd.Series(
        [str(i) for i in range(len(frame))], index=frame.index)
    out = pd.DataFrame({"id": ids.to_numpy(), "text": text.astype(str).to_numpy(),
                        "label": labels.astype(np.int64).to_numpy()})
    group = next((c for c in GROUP_COLUMNS if c in columns), None)
    if group:
        out["group"] = frame[group].astype(str).to_numpy()
    return out


def grouped_split(frame: pd.DataFrame, seed: int,
                  held_out: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
    """Split one table into train plus held-out splits by group (or by row), deterministic in `seed`."""
    held_out = held_out or {"validation": 0.1, "test": 0.1}
    groups = frame["group"] if "group" in frame else frame["id"]
    unique = np.array(sorted(groups.unique()))
    order = unique[np.random.default_rng(seed).permutation(len(unique))]
    counts = {name: max(1, round(f * len(unique))) for name, f in held_out.items()}
    if len(unique) <= sum(counts.values()):
        raise BadInput(f"only {len(unique)} groups of rows: too few to split off {', '.join(held_out)}")
    side = pd.Series("train", index=frame.index, dtype=object)
    start = 0
    for name, count in counts.items():
        side[groups.isin(order[start:start + count])] = name
        start += count
    return {name: frame[side == name].reset_index(drop=True) for name in ("train", *held_out)}


def load_hub(name: str, text_columns: list[str] | None, label_column: str) -> dict[str, pd.DataFrame]:
    """Load a dataset with `datasets.load_dataset(name)`: a hub name, or a local copy in the same schema."""
    import datasets  # heavy; only the hub path needs it

    try:
        dsd = datasets.load_dataset(name)
    except Exception as exc:
        raise BadInput(f"hub:{name}: cannot load ({type(exc).__name__}: {_first_line(exc)})") from None
    aliases = {"valid": "validation", "dev": "validation"}
    return {aliases.get(split, split): normalise(ds.to_pandas(), f"hub:{name}[{split}]", text_columns,
                                                 label_column)
            for split, ds in dsd.items()}


def files_in(path: Path) -> list[Path]:
    """The readable data files of a folder, sorted by name; a folder without any is bad input."""
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
    if not files:
        raise BadInput(f"{path}: folder holds no .parquet, .csv or .jsonl file")
    return files


def load_local(path: Path, text_columns: list[str] | None, label_column: str) -> pd.DataFrame:
    """A file or a folder of files, as one normalised table."""
    if path.is_dir():
        return pd.concat([load_local(p, text_columns, label_column) for p in files_in(path)],
                         ignore_index=True)
    return normalise(read_table(path), str(path), text_columns, label_column)


def load_splits(source: str, seed: int = 42, text_columns: list[str] | None = None,
                label_column: str = "label") -> dict[str, pd.DataFrame]:
    """Train, validation and test splits of SOURCE: `bundled`, `hub:NAME`, a file or a folder."""
    if source.startswith("hub:"):
        splits = load_hub(source[4:], text_columns, label_column)
        if "train" not in splits:
            raise BadInput(f"{source}: no train split (splits: {', '.join(splits)})")
        if "test" not in splits:
            splits = grouped_split(pd.concat(list(splits.values()), ignore_index=True), seed)
        elif "validation" not in splits:
            splits = {**grouped_split(splits["train"], seed, {"validation": 0.1}), "test": splits["test"]}
        return {name: splits[name] for name in SPLITS}
    path = BUNDLED if source == "bundled" else Path(source)
    if not path.exists():
        raise BadInput(f"{source}: no such file or folder (use a .parquet/.csv/.jsonl file, a folder, "
                       "'bundled' or 'hub:NAME')")
    return grouped_split(load_local(path, text_columns, label_column), seed)
