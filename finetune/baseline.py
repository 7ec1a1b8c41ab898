"""The baseline beside every run: TF-IDF + logistic regression on the same train and test rows."""

from __future__ import annotations

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sentiscore.metrics import Metrics, binary_metrics


def tfidf_baseline(splits: dict[str, pd.DataFrame], seed: int) -> tuple[dict[str, Metrics], dict[str, Metrics]]:
    """Fit on train; metrics on validation and test, and on each source's test rows."""
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=500_000),
        LogisticRegression(max_iter=1000, C=4.0, random_state=seed),
    )
    model.fit(splits["train"]["text"], splits["train"]["label"])
    by_split = {name: binary_metrics(splits[name]["label"].to_numpy(), model.predict(splits[name]["text"]))
                for name in ("validation", "test")}
    by_source = {name: binary_metrics(rows["label"].to_numpy(), model.predict(rows["text"]))
                 for name, rows in splits["test"].groupby("source", sort=False)}
    return by_split, by_source
