"""Recipes side by side: every run's exported fp32 model on the same held-out rows, by source, and on
the rows too long for the model (where head and head+tail truncation differ).

    python -m bench.recipes RUN [RUN ...] [--split validation] [--name NAME]   # the rows: the first RUN's split

Writes bench/results/NAME.json and NAME.md (default recipes). The first run's split must be held out from
every other run too (the general, default and base recipes split the Amazon sentences alike).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sentiscore.metrics import classification_metrics
from sentiscore.onnx_model import OnnxModel
from sentiscore.runs import RunFolder
from sentiscore.score.predict import scorer_logits
from sentiscore.tokens import Encoder

RESULTS = Path(__file__).resolve().parent / "results"


def predictions(run: RunFolder, texts: list[str]) -> np.ndarray:
    """The run's fp32 ONNX labels (parity-checked against PyTorch), cut as its manifest says."""
    return scorer_logits(OnnxModel.load(run.export_folder(), "fp32"), texts)[0].argmax(-1)


def token_counts(run: RunFolder, texts: list[str]) -> np.ndarray:
    """Tokens of each whole text (special tokens included), before any cut."""
    encoder = Encoder.from_file(run.export_folder().path / "tokenizer.json", 8192)
    return np.array([len(ids) for ids in encoder.encode(texts)])


def compare(runs: list[RunFolder], split: str = "test") -> dict:
    rows = runs[0].rows(split)
    texts, labels = rows["text"].tolist(), rows["label"].to_numpy()
    long = token_counts(runs[0], texts) > runs[0].export_folder().manifest().max_length
    masks = {name: (rows["source"] == name).to_numpy() for name in dict.fromkeys(rows["source"])}
    results = {"rows": runs[0].path.name, "split": split, "runs": [],
               "sources": {n: {"rows": int(m.sum()), "cut_rows": int((m & long).sum())} for n, m in masks.items()}}
    correct = []
    for run in runs:
        recipe, predicted, classes = run.recipe(), predictions(run, texts), run.labels()
        right = predicted == labels
        correct.append(right)
        by_source = {n: {"accuracy": float(right[m].mean()),
                         "macro_f1": classification_metrics(labels[m], predicted[m], classes).macro_f1,
                         "accuracy_cut_rows": float(right[m & long].mean()) if (m & long).any() else None}
                     for n, m in masks.items()}
        results["runs"].append({"run": run.path.name, "recipe": recipe.name, "truncation": recipe.truncation,
                                "max_length": recipe.max_length, "train_seconds": run.metrics().train_seconds,
                                "classes": len(classes), "by_source": by_source})
    if len(runs) == 2:  # paired: the rows only one of the two gets right
        a, b = correct
        results["only_first_right"], results["only_second_right"] = int((a & ~b).sum()), int((b & ~a).sum())
    return results


def markdown(results: dict) -> str:
    """A table: one row per run, a column per source and per source's cut rows (where it has any), and
    per source's macro-F1 where a run has three classes or more (where accuracy hides a rare class)."""
    sources = results["sources"]
    columns = [(n, "accuracy", f"{n} ({s['rows']})") for n, s in sources.items()]
    if any(r.get("classes", 2) > 2 for r in results["runs"]):
        columns += [(n, "macro_f1", f"{n} macro-F1") for n in sources]
    columns += [(n, "accuracy_cut_rows", f"{n} cut ({s['cut_rows']})") for n, s in sources.items() if s["cut_rows"]]
    header = "| run | recipe | truncation | train s | " + " | ".join(c[2] for c in columns) + " |"
    lines = [f"{results.get('split', 'test').capitalize()} rows of `{results['rows']}`; accuracy of each run's fp32 "
             "export; `cut`: rows longer than the max length.", "", header, "|" + "---|" * (4 + len(columns))]
    for r in results["runs"]:
        cells = [f"{r['by_source'][n][key]:.4f}" for n, key, _ in columns]
        lines.append(f"| {r['run']} | {r['recipe']} | {r['truncation']} | {r['train_seconds']:.0f} | "
                     + " | ".join(cells) + " |")
    if "only_first_right" in results:
        lines += ["", f"Rows only the first run gets right: {results['only_first_right']}; only the second: "
                  f"{results['only_second_right']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="exported run folders; the first gives the rows")
    parser.add_argument("--split", default="test", help="the first run's split to compare on (default test)")
    parser.add_argument("--name", default="recipes", help="results file stem (default recipes)")
    args = parser.parse_args()
    results = compare([RunFolder.open(p) for p in args.runs], args.split)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"{args.name}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
