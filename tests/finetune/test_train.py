import pandas as pd
import pytest
from safetensors import safe_open

from sentiscore.runs import RunFolder
from sentiscore.splits import load_splits
from tests.conftest import BUNDLED, load_metrics, one_line_error, run_cli


def test_tiny_model_trains_and_loss_falls(trained_run):
    metrics = load_metrics(trained_run)
    losses = [h["loss"] for h in metrics["loss_history"] if "loss" in h]
    assert len(losses) >= 6
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first * 0.8, losses
    assert any("eval_loss" in h for h in metrics["loss_history"])
    for who in ("finetuned", "baseline_tfidf_logreg"):
        for split in ("validation", "test"):
            m = metrics[who][split]
            assert set(m) >= {"accuracy", "precision", "recall", "f1", "confusion_matrix"}
            assert sum(map(sum, m["confusion_matrix"])) == metrics["rows"][split]
    assert metrics["finetuned"]["test"]["accuracy"] > 0.7  # learned something real from real data


def test_run_folder_is_complete(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"checkpoint", "metrics.json", "loss.png", "confusion.png", "recipe.toml", "splits.parquet",
            "versions.json"} <= names
    ckpt = trained_run / "checkpoint"
    assert (ckpt / "model.safetensors").is_file() and not list(ckpt.glob("*.bin"))
    with safe_open(ckpt / "model.safetensors", "pt") as f:
        assert any(k.startswith("classifier") for k in f.keys())
    config = (ckpt / "config.json").read_text()
    assert '"0": "negative"' in config and '"1": "positive"' in config
    assert (ckpt / "tokenizer.json").is_file()
    assert not [p for p in trained_run.parent.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.fixture
def sample(tmp_path):
    return pd.read_parquet(BUNDLED).head(200)


@pytest.mark.parametrize("name,write,message", [
    ("labels.jsonl", lambda f, p: f.assign(label=f["label"] * 5).to_json(p, orient="records", lines=True),
     "expected 0..1"),
    ("missing.parquet", lambda f, p: None, "no such file"),
])
def test_bad_input_exits_2_with_one_line_and_no_run_folder(sample, tmp_path, name, write, message):
    """Through the CLI (the reader's every message is checked in tests/sentiscore/test_readers.py)."""
    path = tmp_path / name
    write(sample, path)
    out = tmp_path / "run"
    line = one_line_error(run_cli("finetune", "--dataset", path, "--output", out))
    assert message in line and name in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != name] == []


def test_the_run_records_its_splits(trained_run):
    run = RunFolder(trained_run)
    rows = load_metrics(trained_run)["rows"]
    for split in ("train", "validation", "test"):
        assert len(run.split_ids(split)) == rows[split]
    assert run.recipe().max_train_rows == 1200 and rows["train"] == 1200
    assert set(run.split_ids("test")) == set(load_splits(run.recipe())["test"]["id"])


def test_unknown_recipe_and_bad_flag(tmp_path):
    line = one_line_error(run_cli("finetune", "--recipe", "nope", "--output", tmp_path / "r"))
    assert "--recipe nope" in line
    line = one_line_error(run_cli("finetune", "--epochs", "many"))
    assert "--epochs" in line
    assert not (tmp_path / "r").exists()
