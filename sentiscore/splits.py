"""Train, validation and test splits: the one split preparation, used by finetune (which records the
ids of each split in the run folder), by the run folder re-reading its rows, and by parity on a file
given with --data --split.

A recipe's sources are split one by one, each by its own groups, then concatenated: no review, film
or source row lands on two sides, and each split says which source a row came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore.errors import BadInput
from sentiscore.labels import NO_LABEL
from sentiscore.readers import HUB, Columns, expand_inputs, labelled_parts, text_table
from sentiscore.recipe import Recipe, Source
from sentiscore.runs import SPLITS


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


def _sample(frame: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of at most CAP rows (the frame itself when it is smaller or there is no cap)."""
    return frame.sample(n=cap, random_state=seed).reset_index(drop=True) if cap and len(frame) > cap else frame


def split_source(parts: dict[str, pd.DataFrame], seed: int, where: str,
                 group: str | None = None) -> dict[str, pd.DataFrame]:
    """Train, validation and test of one source read by parts (readers.labelled_parts).

    A source's own test and validation splits are kept; what is missing is split off by group, 80/10/10
    (or 10% of train for validation), with SEED. GROUP: the column the recipe names, which must then exist.
    """
    def by_group(frame: pd.DataFrame, held_out: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
        if group and "group" not in frame:
            raise BadInput(f"{where}: no column {group!r} to split by")
        return grouped_split(frame, seed, held_out)

    if "all" in parts:
        splits = by_group(parts["all"])
    elif "train" not in parts:
        raise BadInput(f"{where}: no train split (splits: {', '.join(parts)})")
    elif "test" not in parts:
        splits = by_group(pd.concat(list(parts.values()), ignore_index=True))
    elif "validation" not in parts:
        splits = {**by_group(parts["train"], {"validation": 0.1}), "test": parts["test"]}
    else:
        splits = dict(parts)
    return {name: splits[name] for name in SPLITS}


def _checked(splits: dict[str, pd.DataFrame], where: str, both_labels: bool = True) -> dict[str, pd.DataFrame]:
    """SPLITS, none of them empty; with BOTH_LABELS, train holds two labels or more (one source of several
    need not)."""
    for name in SPLITS:
        if splits[name].empty:
            raise BadInput(f"{where}: the {name} split is empty")
    if both_labels and splits["train"]["label"].nunique() < 2:
        raise BadInput(f"{where}: the train split holds one label only")
    return splits


def _capped(splits: dict[str, pd.DataFrame], recipe: Recipe) -> dict[str, pd.DataFrame]:
    """The recipe's caps on the whole train and validation splits (test only by a source's own cap)."""
    return {**splits, "train": _sample(splits["train"], recipe.max_train_rows, recipe.seed),
            "validation": _sample(splits["validation"], recipe.max_validation_rows, recipe.seed)}


def make_splits(parts: dict[str, pd.DataFrame], recipe: Recipe, source: str) -> dict[str, pd.DataFrame]:
    """The splits of one source as the recipe would make them (parity's `--data FILE --split`)."""
    return _checked(_capped(split_source(parts, recipe.seed, source), recipe), source)


def recipe_columns(recipe: Recipe, source: Source | None = None) -> Columns:
    return Columns(tuple(recipe.text_columns) or None, None, recipe.label_column, source.group if source else None,
                   source.domain if source else None, tuple(recipe.labels))


def _source_parts(recipe: Recipe, source: Source) -> dict[str, pd.DataFrame]:
    """One source of the recipe by part; row-number ids carry the source's name where there are several."""
    prefix = f"{source.name}/" if len(recipe.dataset) > 1 else ""
    try:
        if not recipe.label_column:  # texts only (an import without labels): rows count for agreement only
            spec = source.spec(recipe.data_dir)
            specs = [spec] if spec.startswith(HUB) else expand_inputs([spec])
            table = pd.concat([text_table(s, recipe_columns(recipe, source)).assign(
                id=lambda t, s=s: prefix + (f"{Path(s).name}:" if len(specs) > 1 else "") + t["id"].astype(str))
                for s in specs], ignore_index=True)
            parts = {"all": table.assign(label=NO_LABEL)}
        else:
            parts = labelled_parts(source.spec(recipe.data_dir), recipe_columns(recipe, source), prefix)
    except BadInput as exc:
        if source.local and not recipe.data_dir and source.source.startswith(HUB):
            raise BadInput(f"{exc} (no hub here? --data-dir DIR reads the local copy DIR/{source.local})") from None
        raise
    return {name: part.assign(source=row_source(recipe, source, part.pop("domain") if source.domain else None))
            for name, part in parts.items()}


def row_source(recipe: Recipe, source: Source, domains: pd.Series | None = None) -> pd.Series | str:
    """What a row's `source` says: the source's name; for a source with a `domain` column, each row's
    domain (NAME/DOMAIN where the recipe has several sources), so test metrics come per domain."""
    if domains is None:
        return source.name
    return domains if len(recipe.dataset) == 1 else source.name + "/" + domains


def source_of(recipe: Recipe, row_source_value: str) -> Source:
    """The recipe source a row's `source` value came from (row_source's inverse)."""
    for source in recipe.dataset:
        if row_source_value == source.name or (source.domain and (len(recipe.dataset) == 1 or
                                                                  row_source_value.startswith(source.name + "/"))):
            return source
    raise KeyError(row_source_value)


def _unique_ids(frames: list[pd.DataFrame]) -> None:
    table = pd.concat([f[["id", "source"]] for f in frames], ignore_index=True)
    twice = table["id"].duplicated(keep=False)
    if twice.any():
        row_id = table.loc[twice, "id"].iloc[0]
        where = " and ".join(sorted(set(table.loc[table["id"] == row_id, "source"])))
        raise BadInput(f"id {row_id} appears more than once (in {where}); the run records its splits by id")


def load_splits(recipe: Recipe) -> dict[str, pd.DataFrame]:
    """Train, validation and test of the recipe's sources: each split on its own and capped to its
    own row caps, then concatenated (with a `source` column) and capped to the recipe's limits."""
    by_source = []
    for source in recipe.dataset:
        where = source.spec(recipe.data_dir)
        splits = split_source(_source_parts(recipe, source), recipe.seed, where, source.group)
        splits["train"] = _sample(splits["train"], source.max_train_rows, recipe.seed)
        splits["test"] = _sample(splits["test"], source.max_test_rows, recipe.seed)
        by_source.append(_checked(splits, where, both_labels=len(recipe.dataset) == 1 and bool(recipe.label_column)))
    _unique_ids([f for splits in by_source for f in splits.values()])
    joined = {name: pd.concat([s[name] for s in by_source], ignore_index=True) for name in SPLITS}
    return _checked(_capped(joined, recipe), recipe.sources_label, both_labels=bool(recipe.label_column))


def source_rows(recipe: Recipe) -> pd.DataFrame:
    """Every labelled row of the recipe's sources, with its `source`: where a run re-reads its splits."""
    frames = [part for source in recipe.dataset for part in _source_parts(recipe, source).values()]
    _unique_ids(frames)
    return pd.concat(frames, ignore_index=True)
