"""Train, validation and test splits: the one split preparation, used by finetune (which records the
ids of each split in the run folder) and by parity on a file given with --data --split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiscore.errors import BadInput
from sentiscore.readers import Columns, labelled_parts
from sentiscore.recipe import Recipe

SPLITS = ("train", "validation", "test")


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


def make_splits(parts: dict[str, pd.DataFrame], recipe: Recipe, source: str) -> dict[str, pd.DataFrame]:
    """Train, validation and test of a source read by parts (readers.labelled_parts).

    A source's own test and validation splits are kept; what is missing is split off by group, 80/10/10
    (or 10% of train for validation), with the recipe's seed; then the row caps take seeded samples.
    """
    if "all" in parts:
        splits = grouped_split(parts["all"], recipe.seed)
    elif "train" not in parts:
        raise BadInput(f"{source}: no train split (splits: {', '.join(parts)})")
    elif "test" not in parts:
        splits = grouped_split(pd.concat(list(parts.values()), ignore_index=True), recipe.seed)
    elif "validation" not in parts:
        splits = {**grouped_split(parts["train"], recipe.seed, {"validation": 0.1}), "test": parts["test"]}
    else:
        splits = dict(parts)
    for name, cap in (("train", recipe.max_train_rows), ("validation", recipe.max_validation_rows)):
        if cap and len(splits[name]) > cap:
            splits[name] = splits[name].sample(n=cap, random_state=recipe.seed).reset_index(drop=True)
    for name in SPLITS:
        if splits[name].empty:
            raise BadInput(f"{source}: the {name} split is empty")
    if splits["train"]["label"].nunique() < 2:
        raise BadInput(f"{source}: the train split holds one label only")
    return {name: splits[name] for name in SPLITS}


def recipe_columns(recipe: Recipe) -> Columns:
    return Columns(tuple(recipe.text_columns) or None, None, recipe.label_column)


def load_splits(recipe: Recipe, source: str | None = None) -> dict[str, pd.DataFrame]:
    """The splits of SOURCE (default: the recipe's dataset), as the recipe prepares them."""
    source = source or recipe.dataset
    return make_splits(labelled_parts(source, recipe_columns(recipe)), recipe, source)
