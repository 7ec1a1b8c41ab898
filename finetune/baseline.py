"""Baselines: TF-IDF + logistic regression beside every run; the RNN and LSTM of the comparison table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sentiscore.labels import DEFAULT
from sentiscore.metrics import Metrics, classification_metrics


def _tfidf(seed: int):
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=500_000),
        LogisticRegression(max_iter=1000, C=4.0, random_state=seed),
    )


def tfidf_baseline(splits: dict[str, pd.DataFrame], seed: int,
                   labels: Sequence[str] = DEFAULT) -> tuple[dict[str, Metrics], dict[str, Metrics]]:
    """Fit on train (LABELS: the classes, any number); metrics on validation and test, and on each
    source's (or domain's) test rows."""
    model = _tfidf(seed)
    model.fit(splits["train"]["text"], splits["train"]["label"])

    def measure(rows: pd.DataFrame) -> Metrics:
        return classification_metrics(rows["label"].to_numpy(), model.predict(rows["text"]), labels)

    by_split = {name: measure(splits[name]) for name in ("validation", "test")}
    by_source = {name: measure(rows) for name, rows in splits["test"].groupby("source", sort=False)}
    return by_split, by_source


# ---- recurrent baselines trained from scratch (the reference report's RNN and LSTM) ----

RECURRENT = ("rnn", "lstm")
EMBEDDING = HIDDEN = 128  # small and common for sentence classifiers trained from scratch
RECURRENT_EPOCHS = 5  # the best validation epoch is kept; on a few thousand reviews they peak within 5
RECURRENT_LR = 2e-3  # Adam; from scratch needs more than fine-tuning's 5e-5
RECURRENT_BATCH = 32


@dataclass(frozen=True)
class Baseline:
    """A baseline's test metrics, size, prediction speed and training time."""

    name: str
    test: Metrics
    parameters: int
    reviews_per_s: float
    train_seconds: float


def tfidf_timed(splits: dict[str, pd.DataFrame], seed: int, labels: Sequence[str] = DEFAULT) -> Baseline:
    """TF-IDF + logistic regression as above, with its size (weights) and prediction speed on test."""
    import time

    started = time.perf_counter()
    model = _tfidf(seed).fit(splits["train"]["text"], splits["train"]["label"])
    trained = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.predict(splits["test"]["text"])
    seconds = time.perf_counter() - started
    classifier = model[-1]
    test = classification_metrics(splits["test"]["label"].to_numpy(), predicted, labels)
    return Baseline("TF-IDF + logistic regression", test, int(classifier.coef_.size + classifier.intercept_.size),
                    len(predicted) / seconds, trained)


def recurrent_baseline(kind: str, splits: dict[str, pd.DataFrame], encoder, seed: int,
                       epochs: int = RECURRENT_EPOCHS, labels: Sequence[str] = DEFAULT) -> Baseline:
    """A one-layer RNN or LSTM over token embeddings, trained from scratch on the train split (the
    teacher's WordPiece tokens, cut as it cuts them); the epoch with the best validation accuracy is kept."""
    import copy
    import time

    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(seed)
    pad_id = encoder.tokenizer.token_to_id("[PAD]") or 0

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(encoder.tokenizer.get_vocab_size(), EMBEDDING, padding_idx=pad_id)
            self.rnn = (nn.LSTM if kind == "lstm" else nn.RNN)(EMBEDDING, HIDDEN, batch_first=True)
            self.head = nn.Linear(HIDDEN, len(labels))

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,
                                                       enforce_sorted=False)
            _, state = self.rnn(packed)
            return self.head((state[0] if kind == "lstm" else state)[-1])

    def batches(frame: pd.DataFrame, order: np.ndarray):
        ids = encoder.encode(frame["text"].tolist())
        for start in range(0, len(order), RECURRENT_BATCH):
            rows = order[start:start + RECURRENT_BATCH]
            lengths = torch.tensor([len(ids[i]) for i in rows])
            padded = torch.full((len(rows), int(lengths.max())), pad_id, dtype=torch.long)
            for j, i in enumerate(rows):
                padded[j, :len(ids[i])] = torch.tensor(ids[i])
            yield rows, padded, lengths

    def predict(model: Net, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(frame), dtype=np.int64)
        model.eval()
        with torch.inference_mode():
            for rows, padded, lengths in batches(frame, np.arange(len(frame))):
                out[rows] = model(padded, lengths).argmax(-1).numpy()
        return out

    model, rng = Net(), np.random.default_rng(seed)
    # fused: the 3.9M-weight embedding made the per-tensor Adam 31 of a step's 50 ms (fused: 3 of 19)
    optimiser = torch.optim.Adam(model.parameters(), lr=RECURRENT_LR, fused=True)
    targets = torch.tensor(splits["train"]["label"].to_numpy())
    best, best_accuracy = copy.deepcopy(model.state_dict()), -1.0
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for rows, padded, lengths in batches(splits["train"], rng.permutation(len(splits["train"]))):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(padded, lengths), targets[rows]).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # plain RNNs explode without it
            optimiser.step()
        accuracy = float((predict(model, splits["validation"]) == splits["validation"]["label"].to_numpy()).mean())
        if accuracy > best_accuracy:
            best, best_accuracy = copy.deepcopy(model.state_dict()), accuracy
    trained = time.perf_counter() - started
    model.load_state_dict(best)
    started = time.perf_counter()
    predicted = predict(model, splits["test"])
    seconds = time.perf_counter() - started
    return Baseline(kind.upper(), classification_metrics(splits["test"]["label"].to_numpy(), predicted, labels),
                    int(sum(p.numel() for p in model.parameters())), len(predicted) / seconds, trained)
