"""Binary classification metrics, shared by finetune, parity and score so they agree exactly."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Accuracy, precision, recall and F1 of the positive class (1), and the confusion matrix
    (rows = true label, columns = predicted label: scikit-learn's layout)."""

    rows: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion_matrix: list[list[int]]

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"accuracy {self.accuracy:.4f}  precision {self.precision:.4f}  recall {self.recall:.4f}  "
                f"F1 {self.f1:.4f}")


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> list[list[int]]:
    """2x2 confusion matrix, rows = true label, columns = predicted label."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((2, 2), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm.tolist()


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    """Metrics of predictions against true labels. Precision, recall or F1 with a zero denominator
    are 0.0, as scikit-learn's zero_division=0."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.shape} rows, y_pred {y_pred.shape}")
    (tn, fp), (fn, tp) = confusion(y_true, y_pred)
    n = len(y_true)
    return Metrics(
        rows=n,
        accuracy=(tp + tn) / n if n else 0.0,
        precision=float(tp / (tp + fp) if tp + fp else 0.0),
        recall=float(tp / (tp + fn) if tp + fn else 0.0),
        f1=float(2 * tp / (2 * tp + fp + fn) if tp else 0.0),
        confusion_matrix=[[tn, fp], [fn, tp]],
    )
