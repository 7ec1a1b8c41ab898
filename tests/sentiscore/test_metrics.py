import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from sentiscore.metrics import classification_metrics

CASES = [
    ([0, 1, 1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1, 1, 0]),
    ([1, 1, 1, 1], [0, 0, 0, 0]),  # no positive predicted: precision and F1 are 0
    ([0, 0, 0], [0, 0, 0]),  # no positive at all
    (list(np.random.default_rng(0).integers(0, 2, 500)), list(np.random.default_rng(1).integers(0, 2, 500))),
]
THREE = ("negative", "neutral", "positive")


@pytest.mark.parametrize("y_true,y_pred", CASES)
def test_metrics_equal_scikit_learn(y_true, y_pred):
    m = classification_metrics(np.array(y_true), np.array(y_pred))
    assert m.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert m.precision == pytest.approx(precision_score(y_true, y_pred, zero_division=0))
    assert m.recall == pytest.approx(recall_score(y_true, y_pred, zero_division=0))
    assert m.f1 == pytest.approx(f1_score(y_true, y_pred, zero_division=0))
    assert m.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0))
    assert m.confusion_matrix == confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    assert m.rows == len(y_true)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_class_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    y_pred[:40] = y_true[:40]
    m = classification_metrics(y_true, y_pred, THREE)
    assert m.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert m.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m.f1 == m.macro_f1  # more than two classes: the headline F1 is the macro one
    assert m.precision == pytest.approx(precision_score(y_true, y_pred, average="macro"))
    assert m.recall == pytest.approx(recall_score(y_true, y_pred, average="macro"))
    assert m.weighted_f1 == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    per_class = f1_score(y_true, y_pred, average=None)
    assert [m.per_class[name]["f1"] for name in THREE] == pytest.approx(per_class.tolist())
    assert [m.per_class[name]["support"] for name in THREE] == np.bincount(y_true, minlength=3).tolist()
    assert m.confusion_matrix == confusion_matrix(y_true, y_pred).tolist()
    assert "macro-F1" in m.line()


def test_a_class_never_predicted_scores_zero():
    m = classification_metrics(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]), THREE)
    assert m.per_class["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        classification_metrics(np.array([0, 1]), np.array([0]))
