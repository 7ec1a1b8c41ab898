"""The parity comparison itself, on made-up logits: which differences pass and which fail."""

import numpy as np
import pytest

from sentiscore.errors import BadInput
from sentiscore.export.gate import (
    ParityReport,
    Thresholds,
    compare,
    excess_disagreement_p,
    mcnemar_p,
    reference_metrics,
)
from sentiscore.labels import NO_LABEL
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
    assert not result.passed and result.failures == ["predicts one class only (positive)"]


def test_thresholds_are_checked():
    with pytest.raises(BadInput, match="--min-agreement"):
        Thresholds(min_agreement=1.5)
    with pytest.raises(BadInput, match="--max-acc-drop"):
        Thresholds(max_acc_drop_pp=-1)


def test_report_reads_back_as_written(tmp_path):
    folder = ExportFolder(tmp_path)
    report = ParityReport(1000, Thresholds(), reference_metrics(LABELS, REFERENCE, ("negative", "positive")),
                          {"int8": compare("int8", flipped([0, 1, 2, 3, 4, 5, 6]), REFERENCE, LABELS, Thresholds())},
                          data="x.parquet", split="all")
    report.write(folder)
    again = ParityReport.read(folder)
    assert again == report and again.passed == report.passed
    assert "| ONNX int8 |" in again.table()


def test_mcnemar_p_values():
    # two-sided exact binomial at 1/2 on the discordant rows: 2 * P(X <= min) for X ~ Bin(n, 1/2)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(3, 0) == pytest.approx(0.25) and mcnemar_p(0, 3) == pytest.approx(0.25)
    assert mcnemar_p(6, 0) == pytest.approx(2 / 64)
    assert mcnemar_p(10, 1) == pytest.approx(2 * (1 + 11) / 2 ** 11)  # C(11, 0) + C(11, 1)
    assert 0 < mcnemar_p(1000, 900) < 0.05  # large counts: exact integers, no overflow


def gate_rows(labelled: int = 244, total: int = 2000, seed: int = 1):
    """A reference right on 90% of LABELLED rows, then TOTAL - LABELLED unlabelled rows."""
    rng = np.random.default_rng(seed)
    labels = np.full(total, NO_LABEL)
    labels[:labelled] = rng.integers(0, 2, labelled)
    truth = np.where(labels == NO_LABEL, rng.integers(0, 2, total), labels)
    wrong = rng.random(total) < 0.1
    reference = np.stack([np.zeros(total), np.where((truth == 1) ^ wrong, 2.0, -2.0)], axis=1)
    return labels, reference


def flip(reference: np.ndarray, rows) -> np.ndarray:
    logits = reference.copy()
    logits[list(rows), 1] *= -1
    return logits


def test_three_flips_of_244_with_99_percent_agreement_pass():
    # -1.23 points on 244 rows failed dynamic int8 on one host and not another: 3 rows is chance (p 0.25)
    labels, reference = gate_rows()
    right = np.flatnonzero(reference[:244].argmax(1) == labels[:244])
    unlabelled = np.arange(244, 2000)
    logits = flip(reference, [*right[:3], *unlabelled[:17]])  # 20 of 2,000 flipped: 99% agreement
    result = compare("int8", logits, reference, labels, Thresholds())
    assert result.accuracy_diff == pytest.approx(-3 / 244) and result.label_agreement == pytest.approx(0.99)
    assert (result.worse, result.better) == (3, 0) and result.p_value == pytest.approx(0.25)
    assert result.passed, result.failures


def test_flipping_five_percent_fails():
    labels, reference = gate_rows()
    logits = flip(reference, range(0, 2000, 20))  # every 20th row, labelled or not
    result = compare("int8", logits, reference, labels, Thresholds())
    assert result.label_agreement == pytest.approx(0.95)
    assert not result.passed
    assert any("label agreement 0.9500 < 0.97" in f for f in result.failures)
    # flipped towards wrong on the labelled rows: significant too
    right = np.flatnonzero(reference[:244].argmax(1) == labels[:244])
    worse = compare("int8", flip(reference, right[:13]), reference, labels, Thresholds())
    assert worse.p_value < 0.05 and any(f.startswith("accuracy drop 5.33 points > 0.5") for f in worse.failures)


def test_the_decision_depends_on_the_logits_only():
    labels, reference = gate_rows()
    logits = flip(reference, [1, 5, 9, 300, 301])
    first = compare("int8", logits, reference, labels, Thresholds())
    again = compare("int8", logits.copy(), reference.copy(), labels.copy(), Thresholds())
    assert first == again


def test_a_variant_that_loses_a_class_fails():
    names = ("negative", "neutral", "positive")
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 600)
    reference = np.eye(3)[labels] * 3.0
    logits = reference.copy()
    neutral = np.flatnonzero(labels == 1)
    logits[neutral] = np.eye(3)[2] * 3.0  # never neutral
    result = compare("int8", logits, reference, labels, Thresholds(max_acc_drop_pp=100), names)
    assert "never predicts neutral (PyTorch does)" in result.failures
    assert result.macro_f1_diff < -0.2 and not result.passed


def test_without_labels_only_agreement_is_judged():
    labels = np.full(500, NO_LABEL)
    reference = np.stack([np.zeros(500), np.where(np.arange(500) % 2, 1.0, -1.0)], axis=1)
    result = compare("int8", flip(reference, range(5)), reference, labels, Thresholds())
    assert result.passed and result.accuracy == 0.0 and result.label_agreement == pytest.approx(0.99)
    report = ParityReport(500, Thresholds(), reference_metrics(labels, reference, ("negative", "positive")),
                          {"int8": result}, labelled_rows=0)
    assert report.pytorch is None and "accuracy NOT checked" in report.lines()[0]


def test_excess_disagreement_p_values():
    # P(X >= k) for X ~ Bin(n, p): one-sided, exact
    assert excess_disagreement_p(0, 244, 0.03) == 1.0
    assert excess_disagreement_p(1, 10, 0.5) == pytest.approx(1 - 0.5 ** 10)
    assert excess_disagreement_p(2, 3, 0.5) == pytest.approx(0.5)
    assert excess_disagreement_p(3, 5, 0.0) == 0.0 and excess_disagreement_p(3, 5, 1.0) == 1.0
    assert 0 < excess_disagreement_p(60, 2000, 0.01) < 1e-6  # large counts: no overflow


def test_training_texts_cannot_hide_disagreement_on_held_out_rows():
    # the default run's int8-static on one host: 17 of 244 validation rows flipped (12 worse, 5 better:
    # McNemar p 0.14), 98.55% agreement over 2,000 rows with the training texts; 95% on the test split
    labels, reference = gate_rows()
    known = reference[:244].argmax(1) == labels[:244]
    right, wrong = np.flatnonzero(known), np.flatnonzero(~known)
    flipped_rows = [*right[:12], *wrong[:5], *range(244, 256)]
    result = compare("int8", flip(reference, flipped_rows), reference, labels, Thresholds())
    assert result.label_agreement == pytest.approx(1 - 29 / 2000) and result.p_value > 0.05
    assert not result.passed and any(f.startswith("labelled-row agreement 0.9303: significantly below 0.97")
                                     for f in result.failures)
    # the default run's dynamic int8 there: 6 of 244 flipped (4 worse, 2 better) is within chance of 3%
    six = compare("int8", flip(reference, [*right[:4], *wrong[:2], *range(244, 249)]), reference, labels,
                  Thresholds())
    assert six.passed, six.failures
