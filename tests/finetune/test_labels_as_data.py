"""Labels are data: a three-class run through finetune, export, parity and score; a checkpoint saved
elsewhere (two labels, three labels, custom names) through import, export, parity --data and score."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA, one_line_error, rotten_tomatoes_file, run_cli, run_here

THREE = ["negative", "neutral", "positive"]
VADER3 = SHARED_DATA / "vader_sentences_3class.parquet"


@pytest.fixture(scope="module")
def three_class_run(tiny_model, tmp_path_factory) -> Path:
    """The tiny model (a two-class head: finetune gives it a new three-class one) on the sentiment3
    recipe's data, briefly; exported with dynamic int8 (the static variants have their own tests)."""
    run = tmp_path_factory.mktemp("three") / "run"
    trained = run_here("finetune", "--recipe", "sentiment3", "--data-dir", SHARED_DATA, "--model", tiny_model,
                       "--output", run, "--max-train-rows", "1500", "--epochs", "2", "--lr", "3e-4",
                       "--max-length", "48", "--max-validation-rows", "300", "--evals-per-epoch", "1")
    assert trained.returncode == 0, trained.stderr[-3000:]
    exported = run_here("export", run, "--no-static")
    assert exported.returncode == 0, exported.stderr[-3000:]
    return run


def reviews_csv(folder: Path, names: list[str], rows: int = 400) -> Path:
    """Real three-class rows, their labels written as NAMES (in mixed case), as a CSV."""
    frame = pd.read_parquet(VADER3).sample(rows, random_state=3)
    frame["label"] = [names[i].upper() if i % 2 else names[i] for i in frame["label"]]
    path = folder / "reviews.csv"
    frame[["id", "text", "label"]].to_csv(path, index=False)
    return path


def test_a_three_class_run(three_class_run):
    config = json.loads((three_class_run / "checkpoint" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    metrics = json.loads((three_class_run / "metrics.json").read_text())
    test = metrics["finetuned"]["test"]
    assert set(test["per_class"]) == set(THREE) and len(test["confusion_matrix"]) == 3
    assert 0 < test["macro_f1"] < 1 and metrics["baseline_tfidf_logreg"]["test"]["macro_f1"] > 0
    assert set(metrics["sources"]) == {"amazon", "movie", "tweet"}  # per domain
    report = (three_class_run / "report.md").read_text()
    assert "## Test metrics by class" in report and "| tweet |" in report and "McNemar" in report
    manifest = json.loads((three_class_run / "onnx" / "manifest.json").read_text())
    assert manifest["labels"] == {"0": "negative", "1": "neutral", "2": "positive"}
    parity = json.loads((three_class_run / "onnx" / "parity.json").read_text())
    assert parity["passed"] and parity["rows"] > parity["labelled_rows"] == 300


def test_scoring_gives_confidence_and_a_column_per_class(three_class_run, tmp_path):
    data = reviews_csv(tmp_path, THREE)
    out = tmp_path / "scored.parquet"
    result = run_cli("score", three_class_run, data, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    scored = pd.read_parquet(out)
    assert list(scored.columns) == ["id", "label", "confidence", "prob_negative", "prob_neutral", "prob_positive",
                                    "label_true"]
    probs = scored[["prob_negative", "prob_neutral", "prob_positive"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (probs.argmax(axis=1) == scored["label"]).all() and np.allclose(probs.max(axis=1), scored["confidence"])
    expected = pd.read_parquet(VADER3).set_index("id").loc[scored["id"], "label"].to_numpy()
    assert (scored["label_true"].to_numpy() == expected).all()  # names in any case read as their classes
    summary = json.loads(out.with_name("scored.summary.json").read_text())
    assert sum(c["rows"] for c in summary["classes"].values()) == len(scored) == 400
    assert summary["classes"]["neutral"]["rows"] == int((scored["label"] == 1).sum())
    assert "macro_f1" in summary["metrics"] and "predicted: negative" in result.stdout


def resaved(run_or_checkpoint: Path, names: list[str], folder: Path) -> Path:
    """A checkpoint as a user brings it: loaded and saved with save_pretrained, its classes renamed."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(run_or_checkpoint, use_safetensors=True)
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {name: i for i, name in enumerate(names)}
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(run_or_checkpoint).save_pretrained(folder)
    return folder


def test_import_a_three_class_checkpoint_with_labelled_data(three_class_run, tmp_path):
    names = ["neg", "mid", "pos"]
    checkpoint = resaved(three_class_run / "checkpoint", names, tmp_path / "mine")
    data = reviews_csv(tmp_path, names)
    run = tmp_path / "imported"
    imported = run_here("import", checkpoint, "--data", data, "--output", run, "--max-length", "48")
    assert imported.returncode == 0, imported.stderr[-2000:]
    recipe = (run / "recipe.toml").read_text()
    assert 'labels = [\n    "neg",\n    "mid",\n    "pos",\n]' in recipe and str(data) in recipe
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["finetuned"]["test"]["per_class"]) == set(names)
    assert run_here("export", run, "--no-static").returncode == 0
    checked = run_here("parity", run, "--data", data)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert json.loads((run / "onnx" / "parity.json").read_text())["labelled_rows"] == 400
    out = tmp_path / "scored.parquet"
    assert run_cli("score", run, data, "-o", out, "--quiet").returncode == 0
    assert {"confidence", "prob_neg", "prob_mid", "prob_pos"} <= set(pd.read_parquet(out).columns)


def test_import_a_two_class_checkpoint_without_data(trained_run, tmp_path):
    checkpoint = resaved(trained_run / "checkpoint", ["bad", "good"], tmp_path / "mine")
    run = tmp_path / "imported"
    imported = run_here("import", checkpoint, "--output", run, "--max-length", "64")
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert "no labelled rows" in imported.stdout
    assert run_here("export", run, "--no-static").returncode == 0
    report = (run / "report.md").read_text()
    assert "accuracy NOT checked" in report and "not evaluated" in report
    out = tmp_path / "scored.parquet"
    assert run_cli("score", run, "bundled", "-o", out, "--quiet").returncode == 0
    assert list(pd.read_parquet(out).columns)[:3] == ["id", "label", "prob_good"]


def test_import_refuses_what_it_cannot_take(trained_run, tmp_path):
    from sentiscore.encoders import resolve_model

    assert "not a Hugging Face model folder" in one_line_error(run_here("import", tmp_path))
    encoder = resolve_model("all-MiniLM-L6-v2")  # a plain encoder, no classification head
    assert "not a sequence classifier" in one_line_error(run_here("import", encoder))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((trained_run / "checkpoint" / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    assert "safetensors only" in one_line_error(run_here("import", pickled))
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["fine", "bad"], "label": ["positive", "neutral"]}).to_csv(wrong,
                                                                                                       index=False)
    line = one_line_error(run_here("import", trained_run / "checkpoint", "--data", wrong, "--output", tmp_path / "r"))
    assert "row 1 has label 'neutral', expected 0..1 or negative/positive" in line


def test_balanced_class_weights_favour_the_rare_class():
    import torch

    from sentiscore.finetune.train import weighted_loss

    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)  # weights 12 / (3 x count): 2/3, 2, 1
    loss = weighted_loss(labels, 3)
    logits = torch.zeros((2, 3))
    rare, common = loss({"logits": logits}, torch.tensor([1, 1])), loss({"logits": logits}, torch.tensor([0, 0]))
    assert rare.item() == pytest.approx(common.item())  # a weighted mean: equal where every row is one class
    mixed = loss({"logits": torch.tensor([[5.0, 0, 0], [5.0, 0, 0]])}, torch.tensor([0, 1]))
    plain = torch.nn.functional.cross_entropy(torch.tensor([[5.0, 0, 0], [5.0, 0, 0]]), torch.tensor([0, 1]))
    assert mixed.item() > plain.item()  # the miss on the rare class weighs three times the hit on the common one


def test_distill_and_cascade_take_three_classes(three_class_run, tmp_path):
    student = tmp_path / "student"
    unlabeled = rotten_tomatoes_file(200, tmp_path)
    distilled = run_here("distill", three_class_run, "--layers", "1", "--unlabeled", unlabeled,
                         "--unlabeled-sentences", "20", "--epochs", "1", "--lr", "3e-4", "--output", student)
    assert distilled.returncode == 0, distilled.stderr[-3000:]
    logits = pd.read_parquet(student / "teacher_logits.parquet")
    assert {f"teacher_logit_{name}" for name in THREE} <= set(logits.columns)
    assert set(json.loads((student / "metrics.json").read_text())["finetuned"]["test"]["per_class"]) == set(THREE)
    assert run_here("export", student, "--no-static", "--max-acc-drop", "100").returncode == 0
    folder = tmp_path / "cascade"
    made = run_here("cascade", student, three_class_run, "--output", folder, "--no-compare", "--max-acc-drop", "100")
    assert made.returncode == 0, made.stderr[-3000:]
    out = tmp_path / "scored.parquet"
    assert run_cli("score", folder, reviews_csv(tmp_path, THREE), "-o", out, "--quiet").returncode == 0
    scored = pd.read_parquet(out)
    assert {"confidence", "prob_neutral", "scored_by"} <= set(scored.columns) and len(scored) == 400
