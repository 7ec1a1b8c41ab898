"""The one split preparation: grouped, seeded, capped; finetune records it and parity re-reads it."""

import dataclasses

import pandas as pd
import pytest

from sentiscore.errors import BadInput
from sentiscore.recipe import Recipe
from sentiscore.splits import grouped_split, load_splits, make_splits
from tests.conftest import BUNDLED


def test_one_review_never_lands_on_two_sides():
    splits = load_splits(Recipe(seed=7))
    sides = [set(splits[name]["group"]) for name in ("train", "validation", "test")]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(s) for s in splits.values()) == len(pd.read_parquet(BUNDLED))


def test_split_is_deterministic_in_the_seed():
    a, b, c = (load_splits(Recipe(seed=s)) for s in (1, 1, 2))
    assert a["test"]["id"].tolist() == b["test"]["id"].tolist()
    assert a["test"]["id"].tolist() != c["test"]["id"].tolist()


def test_rows_without_group_split_by_row():
    frame = pd.DataFrame({"id": [str(i) for i in range(100)], "text": ["x"] * 100, "label": [0, 1] * 50})
    splits = grouped_split(frame, seed=0)
    assert [len(splits[n]) for n in ("train", "validation", "test")] == [80, 10, 10]


def test_caps_are_seeded_samples():
    capped = load_splits(Recipe(max_train_rows=500, max_validation_rows=100))
    again = load_splits(Recipe(max_train_rows=500, max_validation_rows=100))
    whole = load_splits(Recipe())
    assert len(capped["train"]) == 500 and len(capped["validation"]) == 100
    assert capped["validation"]["id"].tolist() == again["validation"]["id"].tolist()
    assert set(capped["validation"]["id"]) < set(whole["validation"]["id"])
    assert capped["test"]["id"].tolist() == whole["test"]["id"].tolist()  # test is never capped


def test_a_source_with_its_own_test_split_keeps_it():
    rows = pd.DataFrame({"id": [f"r{i}" for i in range(200)], "text": ["x"] * 200, "label": [0, 1] * 100})
    parts = {"train": rows.iloc[:150].reset_index(drop=True), "test": rows.iloc[150:].reset_index(drop=True)}
    splits = make_splits(parts, Recipe(), "hub:x")
    assert splits["test"]["id"].tolist() == parts["test"]["id"].tolist()
    assert len(splits["validation"]) == 15 and len(splits["train"]) == 135
    with pytest.raises(BadInput, match="no train split"):
        make_splits({"test": parts["test"]}, Recipe(), "hub:x")
    with pytest.raises(BadInput, match="one label only"):
        make_splits({"all": rows.assign(label=1)}, dataclasses.replace(Recipe()), "x.parquet")
