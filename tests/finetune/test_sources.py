"""A recipe of several sources with head+tail truncation, through finetune, export, parity and score:
per-source metrics, and the truncation carried by the manifest to every later stage."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiscore.errors import BadInput
from sentiscore.manifest import MANIFEST, Manifest
from sentiscore.onnx_model import OnnxModel
from sentiscore.runs import RunFolder
from sentiscore.score.predict import scorer_logits
from tests.conftest import SHARED_DATA, load_metrics, run_here, scored

MAX_LENGTH = 48


@pytest.fixture(scope="module")
def sources_run(trained_run, tmp_path_factory) -> Path:
    """The tiny run's checkpoint trained one more epoch on the bundled sentences plus 300 long IMDB reviews
    (a second source with no group), head+tail at 48 tokens, and exported. From the fine-tuned
    checkpoint, not the bare encoder: one epoch then keeps both classes (the export's gate refuses a
    model that predicts one), where the bare encoder needed three."""
    folder = tmp_path_factory.mktemp("sources")
    pd.read_parquet(SHARED_DATA / "imdb_reviews.parquet").head(300).to_parquet(folder / "imdb.parquet", index=False)
    recipe = folder / "two.toml"
    recipe.write_text(f'truncation = "head+tail"\nmax_length = {MAX_LENGTH}\nepochs = 1\nlr = 1e-4\n'
                      'evals_per_epoch = 1\n\n[[dataset]]\nname = "amazon"\nsource = "bundled"\nmax_train_rows = 1000\n'
                      '\n[[dataset]]\nname = "imdb"\nsource = "hub:imdb"\nlocal = "imdb.parquet"\n')
    run = folder / "run"
    result = run_here("finetune", "--recipe", recipe, "--model", trained_run / "checkpoint", "--data-dir", folder,
                      "--output", run)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_here("export", run, "--no-int8")  # int8 is not what these tests check
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_metrics_and_report_give_each_source(sources_run):
    metrics = load_metrics(sources_run)
    sources = metrics["sources"]
    assert list(sources) == ["amazon", "imdb"]
    assert sources["amazon"]["rows"]["train"] == 1000 and sources["imdb"]["rows"] == \
        {"train": 240, "validation": 30, "test": 30}
    assert sources["imdb"]["read"].endswith("imdb.parquet")
    for split in ("train", "validation", "test"):
        assert sum(s["rows"][split] for s in sources.values()) == metrics["rows"][split]
    for who in ("finetuned", "baseline_tfidf_logreg"):
        assert sum(s[who]["rows"] for s in sources.values()) == metrics[who]["test"]["rows"]
        correct = sum(s[who]["accuracy"] * s[who]["rows"] for s in sources.values())
        assert correct == pytest.approx(metrics[who]["test"]["accuracy"] * metrics["rows"]["test"])
    report = (sources_run / "report.md").read_text()
    assert "## Test metrics by source" in report and "| imdb |" in report and "truncation head+tail" in report
    assert RunFolder(sources_run).recipe().data_dir == str(sources_run.parent)  # absolute: re-readable from anywhere


def test_parity_and_the_scorer_cut_texts_as_the_recipe_did(sources_run, tmp_path):
    folder = sources_run / "onnx"
    manifest = RunFolder(sources_run).export_folder().manifest()
    assert manifest.truncation == "head+tail"
    # fp32 agrees with PyTorch only if both cut alike
    result = run_here("parity", sources_run, "--split", "test")
    assert result.returncode == 0, result.stderr[-2000:]
    fp32 = json.loads((folder / "parity.json").read_text())["variants"]["fp32"]
    assert fp32["label_agreement"] == 1.0 and fp32["max_abs_logit_diff"] < 1e-3
    rows = RunFolder(sources_run).rows("test")
    long = rows[rows["source"] == "imdb"].reset_index(drop=True)
    out = scored(sources_run, _written(long, tmp_path / "long.parquet"), tmp_path / "scored.parquet", "--quiet",
                 "--precision", "fp32")
    ways = {t: OnnxModel(folder / "model.onnx", folder / "tokenizer.json", MAX_LENGTH, truncation=t)
            for t in ("head", "head+tail")}
    probs = {t: _softmax(scorer_logits(m, long["text"].tolist())[0])[:, 1] for t, m in ways.items()}
    np.testing.assert_allclose(out["prob_positive"].to_numpy(), probs["head+tail"], atol=1e-4)
    assert np.abs(out["prob_positive"].to_numpy() - probs["head"]).max() > 1e-3  # the tails do matter


def _written(frame: pd.DataFrame, path: Path) -> Path:
    frame[["id", "text", "label"]].to_parquet(path, index=False)
    return path


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_manifest_says_how_to_cut_and_older_ones_cut_the_head(sources_run, tmp_path):
    data = json.loads((sources_run / "onnx" / MANIFEST).read_text())
    for value, expected in ((None, "head"), ("tail", "truncation 'tail'")):
        edited = {k: v for k, v in data.items() if k != "truncation"} | ({"truncation": value} if value else {})
        (tmp_path / MANIFEST).write_text(json.dumps(edited))
        if value is None:
            assert Manifest.read(tmp_path).truncation == expected  # exports made before truncation was recorded
        else:
            with pytest.raises(BadInput, match=expected):
                Manifest.read(tmp_path)
