"""The run folder's pictures: the loss curve and the confusion matrix (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from collections.abc import Sequence

import matplotlib.pyplot as plt


def plot_loss(history: list[dict], path: Path, loss: str = "cross-entropy loss") -> None:
    """Training loss per logging step and validation loss per evaluation, against the epoch; a student's
    agreement with its teacher at each evaluation too, on a second axis, where the history has it."""
    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h]
    val = [(h["epoch"], h["eval_loss"]) for h in history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train), label="training loss")
    if val:
        ax.plot(*zip(*val), marker="o", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss)
    ax.set_title("Loss")
    ax.legend(loc="upper left")
    agreement = [(h["epoch"], h["eval_agreement"]) for h in history if "eval_agreement" in h]
    if agreement:
        right = ax.twinx()
        right.plot(*zip(*agreement), marker="s", color="tab:green", label="agreement with the teacher")
        right.set_ylabel("validation agreement with the teacher")
        right.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], names: Sequence[str], path: Path, title: str) -> None:
    """The confusion matrix with counts in the cells and the classes named on both axes."""
    n = len(names)
    fig, ax = plt.subplots(figsize=(2.4 + 0.9 * n, 2.0 + 0.9 * n))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max(max(r) for r in matrix) or 1
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center",
                    color="white" if matrix[i][j] > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
