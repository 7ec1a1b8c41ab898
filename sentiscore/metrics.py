"""Classification metrics, shared by finetune, parity and score so they agree exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from sentiscore.labels import DEFAULT


@dataclass(frozen=True)
class Metrics:
    """Accuracy; precision, recall and F1 (two classes: of the second, the positive class; more: their
    macro averages); macro and weighted F1; each class's precision, recall, F1 and support; and the
    confusion matrix (rows = true label, columns = predicted label: scikit-learn's layout)."""

    rows: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion_matrix: list[list[int]]
    macro_f1: float = 0.0
    weighted_f1: float = 0.0
    per_class: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        if len(self.confusion_matrix) > 2:
            return f"accuracy {self.accuracy:.4f}  macro-F1 {self.macro_f1:.4f}  weighted F1 {self.weighted_f1:.4f}"
        return (f"accuracy {self.accuracy:.4f}  precision {self.precision:.4f}  recall {self.recall:.4f}  "
                f"F1 {self.f1:.4f}")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 2) -> list[list[int]]:
    """CLASSES x CLASSES confusion matrix, rows = true label, columns = predicted label."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm.tolist()


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str] = DEFAULT) -> Metrics:
    """Metrics of predictions against true labels, classes named by LABELS. A precision, recall or F1
    with a zero denominator is 0.0, as scikit-learn's zero_division=0."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.shape} rows, y_pred {y_pred.shape}")
    cm = np.array(confusion(y_true, y_pred, len(labels)))
    n = len(y_true)
    tp, predicted, support = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    per_class = {name: {"precision": _ratio(tp[i], predicted[i]), "recall": _ratio(tp[i], support[i]),
                        "f1": _ratio(2 * tp[i], predicted[i] + support[i]), "support": int(support[i])}
                 for i, name in enumerate(labels)}
    f1s = np.array([c["f1"] for c in per_class.values()])
    if len(labels) == 2:
        headline = per_class[labels[1]]
        precision, recall, f1 = headline["precision"], headline["recall"], headline["f1"]
    else:
        precision = float(np.mean([c["precision"] for c in per_class.values()]))
        recall = float(np.mean([c["recall"] for c in per_class.values()]))
        f1 = float(f1s.mean())
    return Metrics(rows=n, accuracy=_ratio(tp.sum(), n), precision=precision, recall=recall, f1=f1,
                   confusion_matrix=cm.tolist(), macro_f1=float(f1s.mean()),
                   weighted_f1=_ratio((f1s * support).sum(), n), per_class=per_class)
