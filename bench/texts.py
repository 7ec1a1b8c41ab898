"""The three text sets of the speed benchmark, each of real labelled reviews from ../shared/data.

short:  Rotten Tomatoes critic snippets (about 19 words).
review: product-review lengths. No full product reviews ship offline (the Amazon file holds single
        sentences), so each row is an IMDB review cut at a word boundary to a length drawn from a
        log-normal with a mean of 80 words and sigma 0.6 (median 67, 95th percentile about 180
        words): the shape of Amazon review bodies. A review shorter than its draw stays whole.
        Its label is the full review's; the IMDB rows differ from the long set's.
long:   whole IMDB reviews (about 232 words; most pass 128 tokens and are truncated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = ("short", "review", "long")
REVIEW_MEAN_WORDS, REVIEW_SIGMA = 80.0, 0.6


def cut_to_words(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words])


def build(name: str, rows: int, folder: Path) -> Path:
    """A Parquet file (id, text, label) of ROWS real reviews for set NAME, the same on every run."""
    path = folder / f"{name}-{rows}.parquet"
    if path.exists():
        return path
    if name == "short":
        frame = pd.read_parquet(SHARED / "rotten_tomatoes.parquet", columns=["id", "text", "label"])
        frame = frame.sample(n=rows, random_state=0)
    elif name == "long":
        frame = pd.read_parquet(SHARED / "imdb_reviews.parquet").sample(n=rows, random_state=0)
    elif name == "review":
        imdb = pd.read_parquet(SHARED / "imdb_reviews.parquet")
        long_ids = set(imdb.sample(n=rows, random_state=0)["id"])
        frame = imdb[~imdb["id"].isin(long_ids)].sample(n=rows, random_state=1).copy()
        draw = np.random.default_rng(0).lognormal(np.log(REVIEW_MEAN_WORDS) - REVIEW_SIGMA**2 / 2, REVIEW_SIGMA, rows)
        frame["text"] = [cut_to_words(t, max(3, round(w))) for t, w in zip(frame["text"], draw)]
    else:
        raise ValueError(f"unknown text set {name!r} (use {', '.join(SETS)})")
    frame.reset_index(drop=True).to_parquet(path, index=False)
    return path
