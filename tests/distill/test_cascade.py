"""The cascade: its threshold, its folder, scoring with it (exactly the student at 0, the teacher at
1.01), a tampered folder refused, kill and resume, parity against the teacher's checkpoint."""

import dataclasses
import importlib
import json
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiscore.distill.cascade import ALL_TO_TEACHER, thresholds_within_limit
from sentiscore.manifest import VARIANTS
from tests.conftest import REPO, one_line_error, run_cli, scored, wait_for_parts

FINE = ["--window-rows", "32", "--quiet"]


@pytest.fixture
def reviews(cascade_reviews):
    return cascade_reviews


def logits_of(p_positive):
    p = np.asarray(p_positive, dtype=np.float64)
    return np.log(np.stack([1 - p, p], axis=1))


def test_threshold_is_the_smallest_teacher_share_within_the_limit():
    # the student is sure and right on rows 0-5, unsure and wrong on 6-7; the teacher is right on all
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    student = logits_of([0.99, 0.01, 0.95, 0.05, 0.9, 0.1, 0.45, 0.6])
    teacher = logits_of([0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1])
    passing = list(thresholds_within_limit(student, teacher, labels, max_acc_drop_pp=0.5))
    chosen = passing[0]
    assert chosen["teacher_share"] == 0.25 and chosen["accuracy"] == 1.0  # rows 6 and 7 only
    assert 0.6 < chosen["threshold"] <= 0.9
    # then every larger one, in order (the next candidates when the real routing fails the gate)
    assert [p["threshold"] for p in passing] == sorted(p["threshold"] for p in passing)
    assert passing[-1]["threshold"] == ALL_TO_TEACHER and passing[-1]["teacher_share"] == 1.0
    loose = next(thresholds_within_limit(student, teacher, labels, max_acc_drop_pp=30))  # 75% is within 30 points
    assert loose["threshold"] == 0.0 and loose["teacher_share"] == 0.0


def test_no_threshold_that_collapses_to_one_class():
    labels = np.array([1, 1, 1, 0])
    student = logits_of([0.9, 0.9, 0.9, 0.8])  # always positive: 75% accuracy, one class
    teacher = logits_of([0.9, 0.9, 0.9, 0.2])
    # 75% would be within the limit
    chosen = next(thresholds_within_limit(student, teacher, labels, max_acc_drop_pp=50))
    assert chosen["every_class"] and chosen["teacher_share"] > 0
    assert list(thresholds_within_limit(student, student, labels, max_acc_drop_pp=50)) == []


def test_the_cascade_folder(cascade_dir, distilled, exported):
    spec = json.loads((cascade_dir / "cascade.json").read_text())
    assert spec["format"] == "sentiscore-cascade/1"
    assert spec["student"]["run"] == str(distilled.resolve()) and spec["teacher"]["run"] == str(exported.resolve())
    for name, recorded in spec["files"].items():
        assert (cascade_dir / name).stat().st_size == recorded["bytes"]
    assert {"student/manifest.json", "teacher/manifest.json", "student/tokenizer.json"} <= set(spec["files"])
    selection = spec["selection"]
    assert selection["within_limit"] and selection["every_class"]
    # thresholds that kept the limit on the whole split's logits but not in the real routing came first
    assert all(r["threshold"] < spec["threshold"] for r in selection["rejected"])
    assert selection["teacher_share"] == spec["teacher_share"]
    parity = json.loads((cascade_dir / "parity.json").read_text())
    assert parity["passed"] and parity["split"] == "validation"
    table = json.loads((cascade_dir / "metrics.json").read_text())["comparison"]
    assert [m["model"] for m in table["models"]] == ["TF-IDF + logistic regression", "RNN", "LSTM",
                                                    "teacher (fine-tuned)", "student (distilled)", "cascade"]
    assert all(m["test"]["rows"] == table["rows"] and m["parameters"] > 0 and m["reviews_per_s"] > 0
               for m in table["models"])
    cascade_row = table["models"][-1]
    assert cascade_row["parameters"] == sum(m["parameters"] for m in table["models"][3:5])
    assert "| cascade |" in (cascade_dir / "report.md").read_text()


def test_a_threshold_the_real_routing_fails_gives_way_to_the_next(distilled, exported, tmp_path, monkeypatch):
    # dynamic int8 rounds the teacher's batch of doubtful rows by its own range: a threshold can keep the
    # limit on the whole split's logits and lose a row in the cascade itself; the gate on the real routing
    # decides, and the next candidate is tried (here the first gate run is made to fail)
    stage = importlib.import_module("sentiscore.distill.cascade")  # the module: the package exports its function

    gate, gated = stage.cascade_parity, []

    def failing_once(folder, limits, reference):
        report = gate(folder, limits=limits, reference=reference)
        gated.append(json.loads((folder.path / "cascade.json").read_text())["threshold"])
        if len(gated) == 1:
            report.variants = {n: dataclasses.replace(v, failures=["forced"]) for n, v in report.variants.items()}
        return report

    monkeypatch.setattr(stage, "cascade_parity", failing_once)
    # the teacher's PyTorch logits on the validation rows are computed once, for the choice and every gate run
    torch_runs = []

    def counted(torch_logits):
        def run(*args):
            torch_runs.append(args)
            return torch_logits(*args)
        return run

    for module in (stage, importlib.import_module("sentiscore.export.stage")):
        monkeypatch.setattr(module, "torch_logits", counted(module.torch_logits))
    result = stage.cascade(distilled, exported, output=tmp_path / "cascade", compare=False)
    spec = json.loads((tmp_path / "cascade" / "cascade.json").read_text())
    assert len(gated) == 2 and gated[0] < gated[1] == spec["threshold"] == result.spec.threshold
    assert len(torch_runs) == 1
    assert [r["threshold"] for r in spec["selection"]["rejected"]] == gated[:1] and result.parity.passed


@pytest.mark.parametrize("threshold, who", [(0.0, "student"), (ALL_TO_TEACHER, "teacher")])
def test_threshold_0_is_the_student_and_1_01_the_teacher(distilled, exported, reviews, tmp_path, threshold, who,
                                                         cli):
    folder = tmp_path / "cascade"
    code, _, err = cli("cascade", distilled, exported, "--output", folder, "--threshold", threshold, "--no-compare",
                       "--max-acc-drop", "100")
    assert code == 0, err[-20:]
    got = scored(folder, reviews, tmp_path / "cascade.parquet", *FINE)
    alone = scored(distilled if who == "student" else exported, reviews, tmp_path / "alone.parquet", *FINE)
    assert (got["scored_by"] == who).all()
    pd.testing.assert_frame_equal(got.drop(columns="scored_by"), alone)  # row by row, probabilities included
    summary = json.loads((tmp_path / "cascade.summary.json").read_text())
    assert summary["scored_by"][who] == len(got)


def test_scoring_with_the_cascade(split_cascade, distilled, exported, reviews, tmp_path):
    # fp32 for both members: the teacher scores its rows in batches of its own, and an int8 variant's
    # logits move with a row's batch-mates (dynamic int8 by design, OpenVINO's by 1e-3), so the labels of
    # this weak tiny teacher, many near 0.5, would flip (4 of 304 once); fp32 computes each row alike
    fp32 = (*FINE, "--precision", "fp32")
    got = scored(split_cascade, reviews, tmp_path / "out.parquet", *fp32)
    student = scored(distilled, reviews, tmp_path / "student.parquet", *fp32)
    teacher = scored(exported, reviews, tmp_path / "teacher.parquet", *fp32)
    by_teacher = (got["scored_by"] == "teacher").to_numpy()
    assert 0 < by_teacher.sum() < len(got)
    threshold = json.loads((split_cascade / "cascade.json").read_text())["threshold"]
    sure = np.maximum(student["prob_positive"], 1 - student["prob_positive"]).to_numpy()
    np.testing.assert_array_equal(by_teacher, sure < np.float32(threshold))
    pd.testing.assert_frame_equal(got[~by_teacher].drop(columns="scored_by"), student[~by_teacher])
    np.testing.assert_array_equal(got.loc[by_teacher, "label"], teacher.loc[by_teacher, "label"])
    np.testing.assert_allclose(got.loc[by_teacher, "prob_positive"], teacher.loc[by_teacher, "prob_positive"],
                               atol=1e-5)
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["scored_by"] == {"student": int((~by_teacher).sum()), "teacher": int(by_teacher.sum())}
    assert "+" in summary["precision"]  # STUDENT+TEACHER variants


def test_a_cascade_with_an_altered_file_is_refused(cascade_dir, reviews, tmp_path):
    folder = tmp_path / "cascade"
    shutil.copytree(cascade_dir, folder)
    spec = json.loads((folder / "cascade.json").read_text())
    model = folder / "student" / VARIANTS[spec["student"]["variant"]].model_file  # the file scoring reads
    with open(model, "ab") as f:
        f.write(b"\0")
    line = one_line_error(run_cli("score", folder, reviews, "-o", tmp_path / "out.parquet", "--quiet"))
    assert "sha256 differs from cascade.json" in line
    assert not (tmp_path / "out.parquet").exists()


def test_a_killed_cascade_job_resumes_to_the_same_output(split_cascade, reviews, tmp_path):
    reference = scored(split_cascade, reviews, tmp_path / "reference.parquet", *FINE)
    out = tmp_path / "out.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "sentiscore.cli", "score", str(split_cascade), str(reviews), "-o",
                             str(out), *FINE], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_parts(out, proc, 5, timeout_s=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    result = run_cli("score", split_cascade, reviews, "-o", out, "--resume", *FINE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "out.summary.json").read_text())["resumed"]
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), reference)


def test_parity_of_a_cascade_against_the_teachers_checkpoint(cli, cascade_dir):
    code, out, err = cli("parity", cascade_dir, "--split", "test", "--max-acc-drop", "100")
    assert code == 0, err
    report = json.loads((cascade_dir / "parity.json").read_text())
    assert report["split"] == "test" and report["rows"] > 0 and 0 <= report["teacher_share"] <= 1
    (name, variant), = report["variants"].items()
    assert name.startswith("cascade ") and variant["passed"] and 0 < variant["label_agreement"] <= 1
    assert any("teacher scored" in line for line in out)
    # held to no drop at all: the verdict follows the accuracy difference, and says so in one line
    code, _, err = cli("parity", cascade_dir, "--split", "test", "--max-acc-drop", "0")
    dropped = variant["accuracy_diff"] < 0
    assert code == (1 if dropped else 0)
    if dropped:
        assert len(err) == 1 and "parity failed" in err[0] and "accuracy drop" in err[0]


def test_a_student_with_its_own_tokenizer_distils_and_cascades(exported, reviews, tmp_path):
    """A base-size teacher's small student need not share its tokenizer: here the tiny WordPiece teacher
    teaches a tiny RoBERTa (byte-level BPE) started from its own weights (--student-model); the cascade
    routes each doubtful row's text to the teacher, which tokenises it itself."""
    from tests.conftest import run_here
    from tests.finetune.test_architectures import tiny_model

    start = tiny_model("roberta", tmp_path / "roberta")
    student = tmp_path / "student"
    result = run_here("distill", exported, "--student-model", start, "--unlabeled", reviews, "--epochs", "3",
                      "--lr", "2e-3", "--batch-size", "32", "--output", student)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((student / "checkpoint" / "config.json").read_text())["model_type"] == "roberta"
    assert (student / "checkpoint" / "tokenizer.json").read_bytes() != \
        (exported / "checkpoint" / "tokenizer.json").read_bytes()
    assert run_here("export", student, "--no-static", "--max-acc-drop", "100").returncode == 0
    fp32 = (*FINE, "--precision", "fp32")  # fp32: a row's logits do not depend on its batch-mates
    alone = {"student": scored(student, reviews, tmp_path / "student.parquet", *fp32),
             "teacher": scored(exported, reviews, tmp_path / "teacher.parquet", *fp32)}
    sure = np.maximum(alone["student"]["prob_positive"], 1 - alone["student"]["prob_positive"])
    folder = tmp_path / "cascade"
    result = run_here("cascade", student, exported, "--output", folder, "--threshold", float(np.median(sure)),
                      "--no-compare", "--max-acc-drop", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    got = scored(folder, reviews, tmp_path / "cascade.parquet", *fp32)
    by_teacher = (got["scored_by"] == "teacher").to_numpy()
    assert 0 < by_teacher.sum() < len(got)
    for who, rows in (("teacher", by_teacher), ("student", ~by_teacher)):
        np.testing.assert_array_equal(got.loc[rows, "label"], alone[who].loc[rows, "label"])
        np.testing.assert_allclose(got.loc[rows, "prob_positive"], alone[who].loc[rows, "prob_positive"], atol=1e-5)
