"""Every CPU variant of an export on the same batches, in one process, passes interleaved.

    python -m bench.variants [RUN] [--rows N] [--rounds R] [--name NAME]

`make bench` runs each contender in a process of its own, one after another: on a shared host two runs
of the very same variant there can differ by 25%. Here every variant's session is loaded once and the
passes go round-robin, best of ROUNDS each (export's own timing, `interleaved_speed`). Batches are
the scorer's own for each variant (sorted by length, 1,024 padded tokens at most, OpenVINO's widths
rounded up as the scorer rounds them).
The baseline is today's dynamic int8 (the first int8 recipe): where the export dropped it (it failed
the gate on this CPU) it is made again here from the export's fp32 file, so "x dynamic int8" is
measured on every host, and marked "not kept" in the table.
Writes bench/results/NAME.{json,md} (default: variants).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from bench import texts
from bench.accuracy import against_fp32, cpu_models, labels_of
from bench.run import latest_run, write_results
from sentiscore.export.static_int8 import interleaved_speed
from sentiscore.manifest import Manifest


def compare(export: Path, rows: int, rounds: int, work: Path) -> list[dict]:
    """Rows/s (best of ROUNDS interleaved passes), accuracy and agreement with fp32 of every CPU variant
    and of today's dynamic int8, per text set."""
    order = Manifest.read(export).cpu_variants()
    models = cpu_models(export, work)
    table = []
    for set_name in texts.SETS:
        frame = pd.read_parquet(texts.build(set_name, rows, work))
        text_list, gold = frame["text"].tolist(), frame["label"].to_numpy()
        labels = labels_of(models, text_list)
        speed = interleaved_speed(models, text_list, rounds)
        for name, measured in against_fp32(labels, gold).items():
            table.append({"texts": set_name, "variant": name, "reviews_per_s": speed[name],
                          "x_int8": round(speed[name] / speed["int8"], 2), **measured,
                          "export_order": order.index(name) + 1 if name in order else None})
            print(json.dumps(table[-1]), flush=True)
    return table


def markdown(results: dict) -> str:
    lines = [f"# Variants side by side: {results['run']}, {results['rows']} rows per set, best of "
             f"{results['rounds']} interleaved passes, {results['date']}", "",
             f"CPU: {results['cpu']['model']}; int8 instruction sets: {', '.join(results['cpu']['int8_flags'])}", "",
             "| texts | variant | reviews/s | x dynamic int8 | accuracy | vs fp32 (pp) | label agreement with fp32 "
             "| place in export's order |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['texts']} | {r['variant']} | {r['reviews_per_s']} | {r['x_int8']} | {r['accuracy']:.2%} | "
              f"{r['accuracy_vs_fp32_pp']:+.2f} | {r['agreement_with_fp32']:.2%} | "
              f"{r['export_order'] or 'not kept (failed the gate)'} |" for r in results["table"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    import tempfile

    from sentiscore.cpu import int8_features

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, help="run folder (default: the newest exported one)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per text set (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved passes per variant (default 5)")
    parser.add_argument("--name", default="variants", help="results file name under bench/results (default variants)")
    args = parser.parse_args()
    run = args.run or latest_run()
    with tempfile.TemporaryDirectory(prefix="sentiscore-variants-") as tmp:
        table = compare(run / "onnx", args.rows, args.rounds, Path(tmp))
    results = {"run": str(run), "rows": args.rows, "rounds": args.rounds, "date": time.strftime("%F"),
               "cpu": int8_features(), "table": table}
    write_results(results, args.name, markdown)


if __name__ == "__main__":
    main()
