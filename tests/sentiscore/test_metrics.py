import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from sentiscore.metrics import binary_metrics

CASES = [
    ([0, 1, 1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1, 1, 0]),
    ([1, 1, 1, 1], [0, 0, 0, 0]),  # no positive predicted: precision and F1 are 0
    ([0, 0, 0], [0, 0, 0]),  # no positive at all
    (list(np.random.default_rng(0).integers(0, 2, 500)), list(np.random.default_rng(1).integers(0, 2, 500))),
]


@pytest.mark.parametrize("y_true,y_pred", CASES)
def test_metrics_equal_scikit_learn(y_true, y_pred):
    m = binary_metrics(np.array(y_true), np.array(y_pred))
    assert m.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert m.precision == pytest.approx(precision_score(y_true, y_pred, zero_division=0))
    assert m.recall == pytest.approx(recall_score(y_true, y_pred, zero_division=0))
    assert m.f1 == pytest.approx(f1_score(y_true, y_pred, zero_division=0))
    assert m.confusion_matrix == confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    assert m.rows == len(y_true)


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        binary_metrics(np.array([0, 1]), np.array([0]))
