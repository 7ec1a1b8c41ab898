"""The scorer end to end through the CLI, on real reviews and the small exported model."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiscore.cpu import int8_features
from sentiscore.manifest import Manifest, exact_name
from sentiscore.onnx_model import OnnxModel
from sentiscore.runs import RunFolder
from sentiscore.score.job import summary_path
from sentiscore.score.predict import Settings, scorer_logits
from tests.conftest import BUNDLED, REPO, SHARED_DATA, default_model_file, one_line_error, run_cli, write_formats

SMALL = ["--window-rows", "64", "--token-budget", "2048", "--quiet"]


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    """Real reviews of every length: Rotten Tomatoes snippets and IMDB reviews, interleaved."""
    rt = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"]).head(300)
    imdb = pd.read_parquet(SHARED_DATA / "imdb_reviews.parquet", columns=["id", "text", "label"]).head(200)
    return pd.concat([rt, imdb]).sample(frac=1.0, random_state=0).reset_index(drop=True)


def score(model, *inputs, output, extra=()):
    result = run_cli("score", model, *inputs, "-o", output, *SMALL, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return pq.read_table(output).to_pandas()


def test_ids_order_and_metrics(exported, reviews, tmp_path):
    path = tmp_path / "reviews.parquet"
    reviews.to_parquet(path, index=False)
    out = score(exported, path, output=tmp_path / "out.parquet")
    assert out["id"].tolist() == reviews["id"].tolist()  # input order survives the length sort
    assert list(out.columns) == ["id", "label", "prob_positive", "label_true"]
    assert str(out["prob_positive"].dtype) == "float32"
    assert ((out["prob_positive"] > 0.5) == (out["label"] == 1)).all()
    summary = json.loads(summary_path(tmp_path / "out.parquet").read_text())
    assert summary["rows"] == len(reviews) and summary["provider"] == "cpu"
    manifest = json.loads((exported / "onnx" / "manifest.json").read_text())
    assert summary["precision"] == manifest["cpu_order"][0] == manifest["default_cpu_variant"]  # fastest at export
    assert summary["cpu"] == int8_features()
    # three figures each rounded to 1 ms: their sum may be off by 1.5 ms
    assert 0 < summary["load_s"] and 0 < summary["scoring_s"] and summary["load_s"] + summary["scoring_s"] <= \
        summary["seconds"] + 1.5e-3 + 1e-9
    assert summary["metrics"]["accuracy"] == pytest.approx((out["label"] == out["label_true"]).mean())
    assert not (tmp_path / "out.parquet.job").exists()


def test_formats_give_identical_predictions(exported, reviews, tmp_path):
    paths = write_formats(reviews, tmp_path / "in")
    outs = {fmt: score(exported, p, output=tmp_path / f"{fmt}.out.parquet") for fmt, p in paths.items()}
    pd.testing.assert_frame_equal(outs["parquet"], outs["csv"])
    pd.testing.assert_frame_equal(outs["parquet"], outs["jsonl"])


def test_fp32_equals_onnxruntime_row_by_row(exported, reviews, tmp_path):
    """Batching, padding and sorting change nothing: fp32 matches one row at a time."""
    rows = reviews.head(120)
    path = tmp_path / "rows.parquet"
    rows.to_parquet(path, index=False)
    out = score(exported, path, output=tmp_path / "out.parquet", extra=["--precision", "fp32"])
    model = OnnxModel.load(exported, "fp32")
    single = np.concatenate([model.run(model.pad(model.encode([t]))) for t in rows["text"]])
    prob = np.exp(single[:, 1]) / np.exp(single).sum(axis=1)
    np.testing.assert_array_equal(out["label"].to_numpy(), single.argmax(1))
    np.testing.assert_allclose(out["prob_positive"].to_numpy(), prob, atol=1e-5)


def test_the_gate_sees_what_score_writes(exported, reviews, tmp_path, cli):
    """Parity runs each variant through scorer_logits: an int8 row's logits depend on its batch-mates, so they
    must be the very logits `score` writes for a file of those rows (300 rows: five windows of 64)."""
    rows = reviews.head(300)
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    texts, settings = rows["text"].tolist(), Settings(window_rows=64)
    for variant in Manifest.read(exported / "onnx").cpu_variants():
        out = tmp_path / f"{variant}.parquet"
        code, _, err = cli("score", exported, tmp_path / "rows.parquet", "-o", out, "--window-rows", 64,
                           "--precision", exact_name(variant), "--quiet")
        assert code == 0, err
        written = pq.read_table(out).to_pandas()
        logits, by_teacher = scorer_logits(OnnxModel.load(exported, variant), texts, settings)
        assert len(written) == len(texts) and not by_teacher.any()
        np.testing.assert_array_equal(written["label"].to_numpy(), logits.argmax(1), err_msg=variant)
        prob = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
        np.testing.assert_allclose(written["prob_positive"].to_numpy(), prob, atol=1e-6, err_msg=variant)


def test_folder_input_and_hostile_texts(exported, reviews, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = pd.DataFrame({"id": ["emoji", "ctrl", "long", "null", "empty", "rtl"],
                        "text": ["😀🔥 great!!", "bad\x00\x07\x1b[31m", "word " * 100_000, None, "   ", "ممتاز جدا"]})
    odd.to_parquet(folder / "a.parquet", index=False)
    reviews.head(50).drop(columns=["label"]).to_parquet(folder / "b.parquet", index=False)
    out = score(exported, folder, output=tmp_path / "out.parquet")
    assert out["id"].tolist() == ["emoji", "ctrl", "long", "rtl", *reviews["id"].head(50)]
    summary = json.loads(summary_path(tmp_path / "out.parquet").read_text())
    assert summary["skipped"] == {"rows": 2, "reasons": {"null_text": 1, "empty_text": 1}}
    result = run_cli("score", exported, folder, "-o", tmp_path / "fail.parquet", "--on-bad-row", "fail", *SMALL)
    line = one_line_error(result)
    assert "a.parquet: row 3 (id null) has no text" in line
    assert not (tmp_path / "fail.parquet").exists()


def test_sigkill_then_resume_matches_an_uninterrupted_run(exported, tmp_path, kill_rng):
    rows = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"]).head(3000)
    path = tmp_path / "rt.parquet"
    rows.to_parquet(path, index=False)
    whole = score(exported, path, output=tmp_path / "whole.parquet")
    out = tmp_path / "killed.parquet"
    args = [sys.executable, "-m", "sentiscore.cli", "score", str(exported), str(path), "-o", str(out), *SMALL]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job = tmp_path / "killed.parquet.job"
    deadline = time.time() + 120
    while len(list(job.glob("part-*.parquet"))) < kill_rng.randint(3, 20):
        assert proc.poll() is None and time.time() < deadline, "job ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    line = one_line_error(run_cli("score", exported, path, "-o", out, *SMALL))
    assert "partial job" in line and "--resume" in line
    resumed = score(exported, path, output=out, extra=["--resume"])
    assert json.loads(summary_path(out).read_text())["resumed"] is True
    assert resumed["id"].is_unique and set(resumed["id"]) == set(rows["id"])
    pd.testing.assert_frame_equal(resumed, whole)


def test_resume_refuses_another_model(exported, tmp_path):
    rows = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet").head(200)
    path = tmp_path / "rt.parquet"
    rows.to_parquet(path, index=False)
    out = tmp_path / "out.parquet"
    job = tmp_path / "out.parquet.job"
    job.mkdir()
    (job / "state.json").write_text(json.dumps({"model_hash": "0" * 64}))
    line = one_line_error(run_cli("score", exported, path, "-o", out, "--resume", *SMALL))
    assert "refusing to resume" in line


@pytest.mark.parametrize("split", [None, "test"])
def test_scorer_never_imports_torch_or_pandas(exported, reviews, tmp_path, split):
    """torch and transformers are the training stack; pandas (which pyarrow imports wherever it can) is
    0.3-0.5 s of a one-row job's start-up. With --split the run's split ids are read too."""
    path = tmp_path / "r.parquet"
    reviews.head(40).to_parquet(path, index=False)
    inputs = ["bundled", "--split", split] if split else [str(path)]
    argv = ["score", str(exported), *inputs, "-o", str(tmp_path / "o.parquet"), "--quiet"]
    code = ("import sys; from sentiscore.cli import main; "
            f"rc = main({argv!r}); "
            "heavy = [m for m in ('torch', 'transformers', 'pandas') if m in sys.modules]; "
            "assert rc == 0 and not heavy, f'imported {heavy}'; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "ok", result.stderr[-2000:]


@pytest.mark.parametrize("name,content,message", [
    ("bad.jsonl", '{"id": "1", "text": "fine"}\n{not json}\n', "line 2 is not JSON"),
    ("bad.csv", b"id,text\n1,\xff\xfe bad bytes\n", "invalid UTF-8"),
    ("trunc.parquet", None, "unreadable"),
    ("nocol.parquet", "nocol", "no text column"),
])
def test_bad_inputs_exit_2_with_one_line(exported, reviews, tmp_path, name, content, message):
    path = tmp_path / name
    if name == "trunc.parquet":
        reviews.to_parquet(path, index=False)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "nocol":
        reviews.rename(columns={"text": "body"}).to_parquet(path, index=False)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out.parquet"
    line = one_line_error(run_cli("score", exported, path, "-o", out, *SMALL))
    assert message in line and name in line
    assert not out.exists() and not summary_path(out).exists()
    assert not (tmp_path / "out.parquet.job").exists()


def test_usage_errors(exported, reviews, tmp_path):
    path = tmp_path / "r.parquet"
    reviews.head(10).to_parquet(path, index=False)
    line = one_line_error(run_cli("score", exported, path, "--provider", "cuda", "-o", tmp_path / "o.parquet"))
    assert "--provider cuda" in line and "CUDAExecutionProvider" in line
    score(exported, path, output=tmp_path / "o.parquet")
    line = one_line_error(run_cli("score", exported, path, "-o", tmp_path / "o.parquet"))
    assert "already exists" in line and "--overwrite" in line
    line = one_line_error(run_cli("score", tmp_path, path))
    assert "not an export folder" in line
    line = one_line_error(run_cli("score", exported, tmp_path / "missing.csv"))
    assert "missing.csv: no such file" in line


def test_altered_model_is_refused(exported, reviews, tmp_path):
    import shutil

    model = tmp_path / "onnx"
    shutil.copytree(exported / "onnx", model)
    with open(model / default_model_file(exported), "r+b") as f:
        f.seek(-100, os.SEEK_END)
        f.write(b"\x00" * 50)
    path = tmp_path / "r.parquet"
    reviews.head(10).to_parquet(path, index=False)
    line = one_line_error(run_cli("score", model, path, "-o", tmp_path / "o.parquet"))
    assert f"{default_model_file(exported)}: sha256 differs" in line


def test_io_binding_path_gives_the_same_logits(exported, reviews):
    """The IO-binding path (used on CUDA) run on the CPU: identical logits to plain session.run."""
    texts = reviews["text"].head(40).tolist()
    plain = OnnxModel.load(exported, "int8")
    bound = OnnxModel.load(exported, "int8", io_binding=True)
    feeds = plain.pad(plain.encode(texts))
    np.testing.assert_array_equal(plain.run(feeds), bound.run(feeds))


def test_split_scores_the_runs_own_held_out_rows(exported, tmp_path):
    """`score RUN FILE --split test` scores the rows of FILE that fell in the run's test split."""
    out = score(exported, "bundled", output=tmp_path / "test.parquet", extra=["--split", "test"])
    bundled = pd.read_parquet(BUNDLED, columns=["id"])["id"]
    test_ids = set(RunFolder(exported).split_ids("test"))
    assert out["id"].tolist() == [i for i in bundled if i in test_ids] and len(out) == 285
    summary = json.loads(summary_path(tmp_path / "test.parquet").read_text())
    assert summary["split"] == "test" and summary["skipped"]["reasons"] == {"outside_split": 2985 - 285}
    assert summary["metrics"]["rows"] == 285
    import shutil

    shutil.copytree(exported / "onnx", tmp_path / "onnx")
    line = one_line_error(run_cli("score", tmp_path / "onnx", "bundled", "--split", "test", "-o",
                                  tmp_path / "x.parquet"))
    assert "--split test" in line and "not inside a run folder" in line
