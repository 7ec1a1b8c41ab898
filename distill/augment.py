"""More in-domain texts for the teacher to label: variants of the labelled training texts, made the way
Tang et al. 2019 made them to distil BERT ("Distilling Task-Specific Knowledge from BERT into Simple
Neural Networks"): each word masked with probability 0.1, then with probability 0.25 a random n-gram
(1 to 5 words) of the result kept instead. Their labels are the teacher's soft ones only: a masked or
cut review may no longer say what its gold label says."""

from __future__ import annotations

import numpy as np

P_MASK = 0.1  # Tang et al.'s p_mask
P_NGRAM = 0.25  # their p_ng
MAX_NGRAM = 5  # n in [1, 5]


def variant(words: list[str], mask: str, rng: np.random.Generator) -> str:
    words = [mask if rng.random() < P_MASK else w for w in words]
    if len(words) > 1 and rng.random() < P_NGRAM:
        n = int(rng.integers(1, min(MAX_NGRAM, len(words)) + 1))
        start = int(rng.integers(0, len(words) - n + 1))
        words = words[start:start + n]
    return " ".join(words)


def augmented(texts: list[str], copies: int, mask: str, seed: int) -> list[str]:
    """COPIES variants of each text (seeded: a run repeats), duplicates of a text or of each other left out."""
    rng = np.random.default_rng(seed)
    seen = set(texts)
    out = []
    for text in texts:
        words = text.split()
        for _ in range(copies):
            candidate = variant(words, mask, rng)
            if candidate and candidate not in seen:
                seen.add(candidate)
                out.append(candidate)
    return out
