"""Label sets as data: a run's classes are a list of names, index = class id (recipe `labels`, a
checkpoint's `id2label`). The default is the binary set every stage used before labels were data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sentiscore.errors import BadInput

DEFAULT = ("negative", "positive")
ID2LABEL = dict(enumerate(DEFAULT))
LABEL2ID = {name: i for i, name in ID2LABEL.items()}
NO_LABEL = -1  # a row whose label is unknown or unused: it counts for agreement with a model, not accuracy


def check_names(names: Sequence[str], where: str) -> tuple[str, ...]:
    """NAMES as a tuple: two or more, each a non-empty string, no two alike in any case (inputs may name
    labels in any case); else BadInput naming WHERE."""
    names = tuple(names)
    if len(names) < 2:
        raise BadInput(f"{where}: needs two or more label names, got {list(names)}")
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise BadInput(f"{where}: label name {name!r} must be a non-empty string without outer spaces")
    lowered = [n.lower() for n in names]
    twice = next((n for n in names if lowered.count(n.lower()) > 1), None)
    if twice is not None:
        raise BadInput(f"{where}: label name {twice!r} appears twice (names are matched in any case)")
    return names


def name_index(names: Sequence[str]) -> dict[str, int]:
    """Lower-cased name -> class index: how a label column's names are read."""
    return {name.lower(): i for i, name in enumerate(names)}


def prob_columns(names: Sequence[str]) -> list[str]:
    """The scorer's probability columns. Two classes: the second class's probability only
    (`prob_positive` for the default set, as before labels were data); more: one `prob_NAME` each."""
    return [f"prob_{names[1]}"] if len(names) == 2 else [f"prob_{name}" for name in names]


def from_id2label(id2label: dict, where: str) -> tuple[str, ...]:
    """The names of a Hugging Face config's `id2label` (keys 0..N-1, as ints or strings), in index order."""
    try:
        by_index = {int(k): str(v) for k, v in id2label.items()}
    except (TypeError, ValueError):
        raise BadInput(f"{where}: id2label keys must be class indices, got {list(id2label)}") from None
    if sorted(by_index) != list(range(len(by_index))):
        raise BadInput(f"{where}: id2label keys must be 0..{len(by_index) - 1}, got {sorted(by_index)}")
    return check_names([by_index[i] for i in range(len(by_index))], where)


def from_config(folder: Path) -> tuple[str, ...]:
    """The label names of a checkpoint or export folder's config.json."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({exc})") from None
    return from_id2label(config.get("id2label") or ID2LABEL, f"{path} id2label")


def probabilities(columns: dict, names: Sequence[str]):
    """Every class's probability (rows x N) from a scorer output's COLUMNS (prob_columns(NAMES)): two
    classes keep one column, the first class's is its complement."""
    import numpy as np

    probs = np.stack([np.asarray(columns[c], np.float64) for c in prob_columns(names)], axis=1)
    return np.concatenate([1 - probs, probs], axis=1) if len(names) == 2 else probs
