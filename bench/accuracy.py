"""Every CPU variant's accuracy against fp32 on sets large enough to resolve a 0.5-point goal.

    python -m bench.accuracy [RUN] [--rows N] [--name NAME]

The speed tables' sets are 600-1,000 rows. There an int8 variant that changes 1-2% of fp32's labels
moves accuracy by about +-0.4 points by chance alone: as much as the static-int8 issue's goal (within
0.5 points of fp32 on every labelled set). This labels ROWS rows of each text set (default 5,000)
with every CPU variant of the export, and with today's dynamic int8 where the gate dropped it, through
the scorer's own windows and batches (`scorer_logits`), untimed, in one process. "+-" in the table is
one standard error of the difference from fp32: a label that changed is right or wrong by chance.
`make bench` runs it too (`--accuracy-rows`) and takes its accuracy goals from it.
Writes bench/results/NAME.{json,md} (default: accuracy).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import texts
from bench.models import dynamic_int8_baseline
from sentiscore.manifest import Manifest
from sentiscore.onnx_model import OnnxModel
from sentiscore.score.predict import scorer_logits


def cpu_models(export: Path, work: Path) -> dict[str, OnnxModel]:
    """Every CPU variant of EXPORT, fastest first, plus today's dynamic int8 (made again, ungated, from
    the fp32 graph where the gate dropped it): the static-int8 issue's baseline on every host."""
    models = {name: OnnxModel.load(export, name) for name in Manifest.read(export).cpu_variants()}
    if "int8" not in models:
        models["int8"] = OnnxModel.load(dynamic_int8_baseline(export, work / "baseline"), "int8")
    return models


def labels_of(models: dict[str, OnnxModel], texts: list[str]) -> dict[str, np.ndarray]:
    """Each model's labels for TEXTS as `sentiscore score` writes them (its windows and batches)."""
    return {name: scorer_logits(model, texts)[0].argmax(-1) for name, model in models.items()}


def against_fp32(labels: dict[str, np.ndarray], gold: np.ndarray) -> dict[str, dict]:
    """Each variant's accuracy on GOLD, its difference from fp32's in points, with one standard error of
    that difference, and its label agreement with fp32."""
    fp32 = float((labels["fp32"] == gold).mean())
    out = {}
    for name, predicted in labels.items():
        accuracy, changed = float((predicted == gold).mean()), int((predicted != labels["fp32"]).sum())
        out[name] = {"accuracy": round(accuracy, 4), "accuracy_vs_fp32_pp": round(100 * (accuracy - fp32), 2),
                     "standard_error_pp": round(100 * math.sqrt(changed) / len(gold), 2),
                     "agreement_with_fp32": round(1 - changed / len(gold), 4)}
    return out


def table(export: Path, rows: int, work: Path) -> list[dict]:
    """ROWS rows of each text set labelled by every CPU variant, compared with fp32 and the gold labels."""
    models = cpu_models(export, work)
    default = next(iter(models))  # cpu_models puts the export's fastest variant first
    out = []
    for set_name in texts.SETS:
        frame = pd.read_parquet(texts.build(set_name, rows, work))
        text_list, gold = frame["text"].tolist(), frame["label"].to_numpy()
        for name, measured in against_fp32(labels_of(models, text_list), gold).items():
            out.append({"texts": set_name, "rows": len(gold), "variant": name, "default": name == default,
                        **measured})
            print(json.dumps(out[-1]), flush=True)
    return out


def markdown_lines(rows: list[dict]) -> list[str]:
    """The accuracy table, for this module's file and for `make bench`'s."""
    lines = ["| texts | rows | variant | accuracy | vs fp32 (pp) | label agreement with fp32 |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['texts']} | {r['rows']} | {r['variant']}{' (the default)' if r['default'] else ''} | "
              f"{r['accuracy']:.2%} | {r['accuracy_vs_fp32_pp']:+.2f} +- {r['standard_error_pp']:.2f} | "
              f"{r['agreement_with_fp32']:.2%} |" for r in rows]
    return lines


def markdown(results: dict) -> str:
    return "\n".join([f"# Accuracy against fp32: {results['run']}, {results['rows']} rows per set, {results['date']}",
                      "", *markdown_lines(results["table"])]) + "\n"


def main() -> None:
    import tempfile

    from bench.run import latest_run, write_results

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, help="run folder (default: the newest exported one)")
    parser.add_argument("--rows", type=int, default=5000, help="rows per text set (default 5000)")
    parser.add_argument("--name", default="accuracy", help="results file name under bench/results (default accuracy)")
    args = parser.parse_args()
    run = args.run or latest_run()
    with tempfile.TemporaryDirectory(prefix="sentiscore-accuracy-") as tmp:
        rows = table(run / "onnx", args.rows, Path(tmp))
    write_results({"run": str(run), "rows": args.rows, "date": time.strftime("%F"), "table": rows}, args.name,
                  markdown)


if __name__ == "__main__":
    main()
