"""Run and export folders read and write their own files; a run's splits are re-read exactly."""

import pandas as pd
import pytest

from sentiscore.errors import BadInput
from sentiscore.recipe import Recipe
from sentiscore.runs import ExportFolder, RunFolder
from sentiscore.splits import load_splits
from tests.conftest import BUNDLED, SHARED_DATA


@pytest.fixture
def run(tmp_path) -> RunFolder:
    """A run folder's bookkeeping (no model): a recipe on a copy of the bundled data, and its splits."""
    data = tmp_path / "reviews.parquet"
    pd.read_parquet(BUNDLED).to_parquet(data)
    recipe = Recipe(dataset=str(data), max_validation_rows=50)
    folder = RunFolder(tmp_path / "run")
    (folder.checkpoint).mkdir(parents=True)
    (folder.checkpoint / "config.json").write_text("{}")
    folder.write_recipe(recipe)
    folder.write_splits(load_splits(recipe))
    return folder


def test_rows_are_exactly_the_recorded_split(run):
    splits = load_splits(run.recipe())
    for name in ("train", "validation", "test"):
        rows = run.rows(name)
        assert rows["id"].tolist() == splits[name]["id"].tolist()
        assert rows["text"].tolist() == splits[name]["text"].tolist()
    assert len(run.rows("validation")) == 50  # the capped sample trained against, not the whole split
    assert run.rows("test", max_rows=7)["id"].tolist() == splits["test"]["id"].tolist()[:7]
    assert len(run.split_ids("all")) == sum(len(s) for s in splits.values())


def test_changed_data_and_unknown_splits_are_refused(run):
    data = run.recipe().dataset[0].source
    frame = pd.read_parquet(data)
    test_id = run.split_ids("test")[0]
    frame[frame["id"] != test_id].to_parquet(data)
    with pytest.raises(BadInput, match=f"id {test_id} of the test split is gone"):
        run.rows("test")
    with pytest.raises(BadInput, match="--split dev: unknown"):
        run.rows("dev")
    (run.path / "splits.parquet").unlink()
    with pytest.raises(BadInput, match="splits.parquet: missing"):
        run.rows("test")


def test_folders_are_found_or_named(run, tmp_path):
    assert RunFolder.open(run.path) == run
    with pytest.raises(BadInput, match="not a run folder"):
        RunFolder.open(tmp_path)
    with pytest.raises(BadInput, match="not an export folder"):
        ExportFolder.find(run.path)
    with pytest.raises(BadInput, match="no such model folder"):
        ExportFolder.find(tmp_path / "nothing")
    run.onnx.mkdir()
    (run.onnx / "manifest.json").write_text("{}")
    assert ExportFolder.find(run.path) == ExportFolder.find(run.onnx) == ExportFolder(run.onnx)
    assert ExportFolder(run.onnx).run() == run
    with pytest.raises(BadInput, match="manifest.json: no 'default_cpu_variant'"):
        ExportFolder(run.onnx).manifest()


def test_a_run_of_several_sources_re_reads_each(tmp_path):
    data = tmp_path / "films.parquet"
    pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet").head(500).drop(columns=["id"]).to_parquet(data)
    recipe = Recipe(dataset=["bundled", {"name": "films", "source": str(data), "group": "movie"}])
    folder = RunFolder(tmp_path / "run")
    folder.write_recipe(recipe)
    splits = load_splits(recipe)
    folder.write_splits(splits)
    rows = folder.rows("test")
    assert rows["id"].tolist() == splits["test"]["id"].tolist() and set(rows["source"]) == {"bundled", "films"}
    assert rows.loc[rows["source"] == "films", "id"].str.startswith("films/").all()
