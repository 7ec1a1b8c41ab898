"""The one split preparation: grouped, seeded, capped; finetune records it and parity re-reads it."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from sentiscore.errors import BadInput
from sentiscore.recipe import Recipe
from sentiscore.splits import SPLITS, grouped_split, load_splits, make_splits
from tests.conftest import BUNDLED, SHARED_DATA


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


# ---- several sources in one recipe ----

HUB_README = """---
configs:
- config_name: default
  data_files:
{files}
  default: true
---
"""


def hub_copy(folder: Path, parts: dict[str, pd.DataFrame]) -> str:
    """A local dataset in a hub dataset's layout (one Parquet file per split, declared in README.md),
    which `hub:FOLDER` reads through datasets.load_dataset as it would read the hub's."""
    (folder / "data").mkdir(parents=True)
    for split, frame in parts.items():
        frame.to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet", index=False)
    files = "\n".join(f"  - split: {s}\n    path: data/{s}-*" for s in parts)
    (folder / "README.md").write_text(HUB_README.format(files=files))
    return f"hub:{folder}"


@pytest.fixture(scope="module")
def local_copies(tmp_path_factory) -> Path:
    """Slices of the real IMDB (no id column: row numbers) and Rotten Tomatoes (by film) files."""
    folder = tmp_path_factory.mktemp("local")
    imdb = pd.read_parquet(SHARED_DATA / "imdb_reviews.parquet").head(400)
    imdb.drop(columns=["id"]).to_parquet(folder / "imdb.parquet", index=False)
    rt = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet")
    rt[rt["movie"].isin(rt["movie"].unique()[:40])].to_parquet(folder / "rt.parquet", index=False)
    return folder


def general_like(folder: Path, **settings) -> Recipe:
    return Recipe(dataset=[{"name": "amazon", "source": "bundled", "group": "review_id"},
                           {"name": "rt", "source": "hub:rotten_tomatoes", "local": "rt.parquet", "group": "movie"},
                           {"name": "imdb", "source": "hub:imdb", "local": "imdb.parquet", "max_train_rows": 100}],
                  data_dir=str(folder), **settings)


def test_each_source_is_split_on_its_own_then_joined(local_copies):
    splits = load_splits(general_like(local_copies))
    by_source = {name: {s: f[f["source"] == name] for s, f in splits.items()} for name in ("amazon", "rt", "imdb")}
    # the Amazon sentences fall exactly as in the one-source default recipe
    alone = load_splits(Recipe())
    for split in SPLITS:
        assert by_source["amazon"][split]["id"].tolist() == alone[split]["id"].tolist()
    films = [set(by_source["rt"][s]["group"]) for s in SPLITS]
    assert not (films[0] & films[1]) and not (films[0] & films[2]) and not (films[1] & films[2])
    imdb = by_source["imdb"]
    assert len(imdb["train"]) == 100 and len(imdb["test"]) == 40 and len(imdb["validation"]) == 40
    assert imdb["test"]["id"].str.startswith("imdb/").all()  # row-number ids carry the source's name
    assert sum(len(f) for f in by_source["rt"].values()) == len(pd.read_parquet(local_copies / "rt.parquet"))


def test_a_test_cap_is_a_seeded_sample_of_that_source_only(local_copies):
    recipe = general_like(local_copies)
    capped = dataclasses.replace(recipe, dataset=[*recipe.dataset[:2], dataclasses.replace(recipe.dataset[2],
                                                                                           max_test_rows=25)])
    whole, fewer = load_splits(recipe)["test"], load_splits(capped)["test"]
    assert (fewer["source"] == "imdb").sum() == 25
    assert set(fewer["id"]) < set(whole["id"])
    assert (fewer["source"] != "imdb").sum() == (whole["source"] != "imdb").sum()


def test_a_recipe_cap_applies_to_all_sources_together(local_copies):
    splits = load_splits(general_like(local_copies, max_validation_rows=30))
    assert len(splits["validation"]) == 30
    assert splits["test"]["id"].tolist() == load_splits(general_like(local_copies))["test"]["id"].tolist()


def test_hub_schemas_keep_their_own_splits_and_skip_unlabelled_ones(local_copies, tmp_path):
    imdb = pd.read_parquet(local_copies / "imdb.parquet")
    rt = pd.read_parquet(local_copies / "rt.parquet")[["text", "label"]]
    imdb_hub = hub_copy(tmp_path / "imdb", {"train": imdb.iloc[:200], "test": imdb.iloc[200:300],
                                            "unsupervised": imdb.iloc[300:].assign(label=-1)})
    rt_hub = hub_copy(tmp_path / "rotten_tomatoes", {"train": rt.iloc[:300], "validation": rt.iloc[300:340],
                                                     "test": rt.iloc[340:400]})
    splits = load_splits(Recipe(dataset=[{"name": "imdb", "source": imdb_hub}, {"name": "rt", "source": rt_hub,
                                                                                "group": "movie"}]))
    rows = {(name, s): int((f["source"] == name).sum()) for s, f in splits.items() for name in ("imdb", "rt")}
    assert rows == {("imdb", "train"): 180, ("imdb", "validation"): 20, ("imdb", "test"): 100,
                    ("rt", "train"): 300, ("rt", "validation"): 40, ("rt", "test"): 60}
    assert splits["test"]["id"].iloc[0] == "imdb/test:0"


def test_a_hub_source_without_the_hub_points_at_its_local_copy(local_copies):
    recipe = Recipe(dataset=[{"source": "hub:sentiscore-no-such-dataset", "local": "rt.parquet"}, "bundled"])
    with pytest.raises(BadInput, match=r"--data-dir DIR reads the local copy DIR/rt.parquet"):
        load_splits(recipe)
    assert len(load_splits(dataclasses.replace(recipe, data_dir=str(local_copies)))["test"]) > 0


def test_sources_sharing_an_id_or_missing_their_group_are_refused(local_copies, tmp_path):
    pd.read_parquet(BUNDLED).head(200).to_parquet(tmp_path / "copy.parquet")
    with pytest.raises(BadInput, match=r"appears more than once \(in bundled and copy\)"):
        load_splits(Recipe(dataset=["bundled", str(tmp_path / "copy.parquet")]))
    with pytest.raises(BadInput, match="imdb.parquet: no column 'movie' to split by"):
        load_splits(Recipe(dataset=[{"source": str(local_copies / "imdb.parquet"), "group": "movie"}, "bundled"]))
