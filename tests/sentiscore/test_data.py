import pandas as pd
import pytest

from sentiscore.data import grouped_split, load_splits, normalise, read_table
from sentiscore.errors import BadInput
from tests.conftest import BUNDLED, write_formats


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_parquet(BUNDLED).head(300)
    frame.loc[3, "text"] = 'quotes "inside", a comma, and émoji 😀'
    return frame


def test_parquet_csv_jsonl_load_identically(sample, tmp_path):
    paths = write_formats(sample, tmp_path)
    loaded = {fmt: normalise(read_table(p), str(p)) for fmt, p in paths.items()}
    pd.testing.assert_frame_equal(loaded["parquet"], loaded["csv"])
    pd.testing.assert_frame_equal(loaded["parquet"], loaded["jsonl"])
    assert loaded["parquet"]["text"].tolist() == sample["text"].tolist()


def test_grouped_split_never_puts_one_review_on_two_sides():
    splits = load_splits("bundled", seed=7)
    sides = [set(splits[name]["group"]) for name in ("train", "validation", "test")]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(s) for s in splits.values()) == len(pd.read_parquet(BUNDLED))


def test_split_is_deterministic_in_the_seed():
    a, b, c = (load_splits("bundled", seed=s) for s in (1, 1, 2))
    assert a["test"]["id"].tolist() == b["test"]["id"].tolist()
    assert a["test"]["id"].tolist() != c["test"]["id"].tolist()


def test_rows_without_group_split_by_row():
    frame = pd.DataFrame({"id": [str(i) for i in range(100)], "text": ["x"] * 100, "label": [0, 1] * 50})
    splits = grouped_split(frame, seed=0)
    assert [len(splits[n]) for n in ("train", "validation", "test")] == [80, 10, 10]


def test_hub_path_reads_local_dataset_in_amazon_polarity_schema(sample, tmp_path):
    """`hub:NAME` goes through datasets.load_dataset; offline, a local folder in the same schema."""
    polarity = pd.DataFrame({"label": sample["label"], "title": ["Title " + str(i) for i in range(len(sample))],
                             "content": sample["text"]})
    folder = tmp_path / "amazon_polarity"
    folder.mkdir()
    polarity.iloc[:240].to_parquet(folder / "train.parquet", index=False)
    polarity.iloc[240:].to_parquet(folder / "test.parquet", index=False)
    splits = load_splits(f"hub:{folder}", seed=0)
    assert len(splits["train"]) + len(splits["validation"]) == 240
    assert len(splits["test"]) == 60
    assert splits["test"]["text"].iloc[0] == f"Title 240. {sample['text'].iloc[240]}"
    assert splits["test"]["label"].tolist() == sample["label"].iloc[240:].tolist()


@pytest.mark.parametrize("change,message", [
    (lambda f: f.drop(columns=["text"]), "no text column"),
    (lambda f: f.drop(columns=["label"]), "no label column"),
    (lambda f: f.assign(label=[2] + [0] * (len(f) - 1)), "row 0 has label 2"),
    (lambda f: f.assign(text=["ok", None] + ["x"] * (len(f) - 2)), "row 1 has no text"),
])
def test_bad_tables_name_what_is_wrong(sample, tmp_path, change, message):
    path = tmp_path / "bad.parquet"
    change(sample.copy()).to_parquet(path)
    with pytest.raises(BadInput, match=message):
        load_splits(str(path))
