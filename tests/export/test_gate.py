"""The parity comparison itself, on made-up logits: which differences pass and which fail."""

import numpy as np
import pytest

from sentiscore.errors import BadInput
from sentiscore.export.gate import ParityReport, Thresholds, compare
from sentiscore.metrics import binary_metrics
from sentiscore.runs import ExportFolder

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 2, 1000)
# a reference that is right on 90% of rows, with margins well away from zero
REFERENCE = np.stack([np.zeros(1000), np.where((LABELS == 1) ^ (RNG.random(1000) < 0.1), 2.0, -2.0)], axis=1)


def flipped(rows: list[int]) -> np.ndarray:
    logits = REFERENCE.copy()
    logits[rows, 1] *= -1
    return logits


def test_identical_logits_pass_every_variant():
    for name in ("fp32", "int8", "fp16"):
        result = compare(name, REFERENCE, REFERENCE, LABELS, Thresholds())
        assert result.passed and result.label_agreement == 1.0 and result.max_abs_logit_diff == 0


def test_fp32_is_held_to_agreement_and_int8_to_accuracy():
    wrong_to_right = [int(i) for i in np.flatnonzero(REFERENCE.argmax(1) != LABELS)[:2]]  # two flips that help
    fp32 = compare("fp32", flipped(wrong_to_right), REFERENCE, LABELS, Thresholds())
    assert fp32.label_agreement == 0.998 and not fp32.passed and "label agreement" in fp32.failures[0]
    int8 = compare("int8", flipped(wrong_to_right), REFERENCE, LABELS, Thresholds())
    assert int8.passed and int8.accuracy_diff == pytest.approx(0.002)


def test_accuracy_drop_over_the_limit_fails():
    right = np.flatnonzero(REFERENCE.argmax(1) == LABELS)
    four = compare("int8", flipped([int(i) for i in right[:4]]), REFERENCE, LABELS, Thresholds())
    assert four.passed and four.accuracy_diff == pytest.approx(-0.004)
    six = compare("int8", flipped([int(i) for i in right[:6]]), REFERENCE, LABELS, Thresholds())
    assert not six.passed and "accuracy drop 0.60 points > 0.5" in six.failures[0]
    assert compare("int8", flipped([int(i) for i in right[:6]]), REFERENCE, LABELS, Thresholds(0.999, 1.0)).passed


def test_one_class_fails_whatever_the_accuracy():
    constant = np.tile([0.0, 1.0], (1000, 1))
    result = compare("fp16", constant, constant, LABELS, Thresholds())
    assert not result.passed and result.failures == ["predicts one class only (1)"]


def test_thresholds_are_checked():
    with pytest.raises(BadInput, match="--min-agreement"):
        Thresholds(min_agreement=1.5)
    with pytest.raises(BadInput, match="--max-acc-drop"):
        Thresholds(max_acc_drop_pp=-1)


def test_report_reads_back_as_written(tmp_path):
    folder = ExportFolder(tmp_path)
    report = ParityReport(1000, Thresholds(), binary_metrics(LABELS, REFERENCE.argmax(1)),
                          {"int8": compare("int8", flipped([0, 1, 2, 3, 4, 5, 6]), REFERENCE, LABELS, Thresholds())},
                          data="x.parquet", split="all")
    report.write(folder)
    again = ParityReport.read(folder)
    assert again == report and again.passed == report.passed
    assert "| ONNX int8 |" in again.table()
