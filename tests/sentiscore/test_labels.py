"""Label sets as data: names checked, read from configs, labels read by index or name in any case."""

import numpy as np
import pandas as pd
import pytest

from sentiscore.errors import BadInput
from sentiscore.labels import DEFAULT, check_names, from_id2label, prob_columns, probabilities
from sentiscore.readers import Columns, labelled_table
from sentiscore.recipe import load_recipe

THREE = ("negative", "neutral", "positive")


def test_names_are_checked():
    assert check_names(["bad", "good"], "x") == ("bad", "good")
    for names, why in ((["only"], "two or more"), (["a", "A"], "appears twice"), (["a", " b"], "outer spaces"),
                       (["a", ""], "non-empty")):
        with pytest.raises(BadInput, match=why):
            check_names(names, "labels")


def test_id2label_in_index_order():
    assert from_id2label({"1": "pos", "0": "neg"}, "c") == ("neg", "pos")
    assert from_id2label({0: "a", 1: "b", 2: "c"}, "c") == ("a", "b", "c")
    with pytest.raises(BadInput, match="keys must be 0..1"):
        from_id2label({"0": "a", "2": "b"}, "config.json id2label")


def test_two_classes_keep_prob_positive_and_more_get_one_column_each():
    assert prob_columns(DEFAULT) == ["prob_positive"]
    assert prob_columns(("bad", "good")) == ["prob_good"]
    assert prob_columns(THREE) == ["prob_negative", "prob_neutral", "prob_positive"]
    two = probabilities({"prob_positive": [0.25, 1.0]}, DEFAULT)
    assert two.tolist() == [[0.75, 0.25], [0.0, 1.0]]
    three = probabilities({f"prob_{n}": [0.2, 0.5] for n in THREE}, THREE)
    assert three.shape == (2, 3)


def test_labels_by_index_or_name_in_any_case(tmp_path):
    path = tmp_path / "three.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["w", "x", "y", "z"],
                  "label": ["Negative", "NEUTRAL", "2", "positive"]}).to_csv(path, index=False)
    table = labelled_table(str(path), Columns(labels=THREE))
    assert table["label"].tolist() == [0, 1, 2, 2]


def test_an_unknown_label_names_its_row(tmp_path):
    path = tmp_path / "three.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["w", "x"], "label": ["neutral", "mixed"]}).to_csv(path, index=False)
    with pytest.raises(BadInput, match=r"row 1 has label 'mixed', expected 0..2 or negative/neutral/positive"):
        labelled_table(str(path), Columns(labels=THREE))
    with pytest.raises(BadInput, match="row 0 has label 'neutral', expected 0..1 or negative/positive"):  # binary
        labelled_table(str(path), Columns())
    index = tmp_path / "index.parquet"
    pd.DataFrame({"id": ["a"], "text": ["w"], "label": [3]}).to_parquet(index, index=False)
    with pytest.raises(BadInput, match="row 0 has label 3"):
        labelled_table(str(index), Columns(labels=THREE))


def test_recipe_labels():
    assert load_recipe("default").labels == list(DEFAULT)
    recipe = load_recipe("sentiment3")
    assert recipe.labels == list(THREE) and recipe.dataset[0].domain == "domain"
    with pytest.raises(BadInput, match="--label .*two or more"):
        load_recipe("default", labels=["one"])


def test_domains_become_the_test_sources(tmp_path):
    from sentiscore.splits import load_splits

    rows = 300
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(rows)], "text": [f"text {i}" for i in range(rows)],
                          "label": np.arange(rows) % 3, "domain": np.where(np.arange(rows) % 2, "tweet", "movie")})
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    recipe = load_recipe("sentiment3", data_dir=str(tmp_path), dataset=[
        {"source": "d.parquet", "local": "d.parquet", "domain": "domain", "name": "d"}])
    splits = load_splits(recipe)
    assert set(splits["test"]["source"]) == {"tweet", "movie"}
