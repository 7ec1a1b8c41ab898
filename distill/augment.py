"""More in-domain texts for the teacher to label, both with the teacher's soft labels only.

Sentences cut from the unlabelled texts: short rows, cheap to train on, each one statement.
Variants of the labelled training texts, made the way Tang et al. 2019 made them to distil BERT
("Distilling Task-Specific Knowledge from BERT into Simple Neural Networks"): each word masked with
probability 0.1, then with probability 0.25 a random n-gram (1 to 5 words) of the result kept instead;
a masked or cut review may no longer say what its gold label says."""

from __future__ import annotations

import re

import numpy as np

P_MASK = 0.1  # Tang et al.'s p_mask
P_NGRAM = 0.25  # their p_ng
MAX_NGRAM = 5  # n in [1, 5]
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # a stop, then a space: good enough for a sample of statements
SENTENCE_WORDS = (5, 40)  # shorter is rarely a statement ("Wow."), longer is a run-on the splitter missed


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


def sentences(texts: list[str], count: int, seed: int) -> list[str]:
    """COUNT distinct sentences of TEXTS (SENTENCE_WORDS words each; texts themselves left out), a seeded
    sample in a fixed order, so that a run repeats."""
    whole = set(texts)
    low, high = SENTENCE_WORDS
    cut = {s.strip() for text in texts for s in SENTENCE_END.split(text)}
    pool = sorted(s for s in cut if low <= len(s.split()) <= high and s not in whole)
    picked = np.random.default_rng(seed).choice(len(pool), size=min(count, len(pool)), replace=False)
    return [pool[i] for i in np.sort(picked)]
