"""Benchmarks of the scorer: reviews/s and peak RSS per precision, and peak RSS against input size.

Run by `make bench` (never by the tests): writes bench/results/score.json and bench/results/score.md.
Each measurement is a separate `sentiscore score` process, so peak RSS is that process's own.
Benchmark on a quiet machine: a second busy process cuts every figure here by 2 to 3 times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


def latest_run() -> Path:
    runs = sorted((p for p in (REPO / "runs").glob("*") if (p / "onnx" / "manifest.json").is_file()),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        sys.exit("bench: no exported run under runs/ (make train export first)")
    return runs[-1]


def measure(model: Path, data: Path, *flags: str) -> dict:
    """One `sentiscore score` process: its summary plus peak RSS (from wait4) and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sentiscore.cli", "score", str(model), str(data), "-o",
                                 str(out), "--quiet", *flags], cwd=REPO, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench: scoring {data} failed")
        summary = json.loads(out.with_name("out.summary.json").read_text())
    return {"rows": summary["rows"], "wall_s": round(wall, 2), "reviews_per_s": round(summary["rows"] / wall, 1),
            "tokens_per_s": round(summary["this_run"]["tokens"] / wall, 0),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "accuracy": summary.get("metrics", {}).get("accuracy")}


def sampled(rows: int, folder: Path) -> Path:
    """A Parquet file of ROWS real Rotten Tomatoes snippets, sampled with replacement, unique ids."""
    path = folder / f"rt-{rows}.parquet"
    if not path.exists():
        base = pd.read_parquet(SHARED / "rotten_tomatoes.parquet", columns=["id", "text", "label"])
        frame = base.sample(n=rows, replace=True, random_state=0).reset_index(drop=True)
        frame["id"] = [f"{i}-{x}" for i, x in enumerate(frame["id"])]
        frame.to_parquet(path, index=False, row_group_size=50_000)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, help="run folder (default: the newest exported one)")
    parser.add_argument("--imdb-rows", type=int, default=19_902,
                        help="IMDB reviews per precision (default all; 0 skips the throughput runs)")
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[10_000, 100_000],
                        help="input sizes for the memory curve (1000000 takes about 17 minutes here)")
    parser.add_argument("--engine-rows", type=int, default=0,
                        help="also score this many Rotten Tomatoes rows with --engine local and --engine ray")
    parser.add_argument("--name", help="results file stem (default score)")
    args = parser.parse_args()
    run = args.run or latest_run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {"run": str(run), "cpu_count": os.cpu_count(), "throughput": {}, "memory": {}, "engines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        imdb = Path(tmp) / "imdb.parquet"
        pd.read_parquet(SHARED / "imdb_reviews.parquet").head(args.imdb_rows).to_parquet(imdb, index=False)
        for precision in ("int8", "fp32") if args.imdb_rows else ():
            results["throughput"][precision] = measure(run, imdb, "--precision", precision)
            print(precision, results["throughput"][precision], flush=True)
        if args.engine_rows:
            data = sampled(args.engine_rows, Path(tmp))
            for engine in ("local", "ray"):
                results["engines"][engine] = measure(run, data, "--engine", engine)
                print(engine, results["engines"][engine], flush=True)
            windows = -(-args.engine_rows // 2048)
            extra = results["engines"]["ray"]["wall_s"] - results["engines"]["local"]["wall_s"]
            results["engines"]["ray_overhead_s_per_window"] = round(extra / windows, 3)
        for rows in args.memory_rows:
            results["memory"][str(rows)] = measure(run, sampled(rows, Path(tmp)))
            print(rows, results["memory"][str(rows)], flush=True)
    name = args.name or "score"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Scorer on {run} ({os.cpu_count()} CPUs)", "",
             "| input | precision | rows | reviews/s | tokens/s | peak RSS MB | accuracy |",
             "|---|---|---|---|---|---|---|"]
    for precision, r in results["throughput"].items():
        lines.append(f"| IMDB | {precision} | {r['rows']} | {r['reviews_per_s']} | {r['tokens_per_s']:.0f} "
                     f"| {r['peak_rss_mb']} | {r['accuracy']:.4f} |")
    for rows, r in results["memory"].items():
        lines.append(f"| Rotten Tomatoes x{rows} | int8 | {r['rows']} | {r['reviews_per_s']} | {r['tokens_per_s']:.0f} "
                     f"| {r['peak_rss_mb']} | {r['accuracy']:.4f} |")
    for engine in ("local", "ray"):
        if engine in results["engines"]:
            r = results["engines"][engine]
            lines.append(f"| Rotten Tomatoes x{r['rows']}, engine {engine} | int8 | {r['rows']} | {r['reviews_per_s']} "
                         f"| {r['tokens_per_s']:.0f} | {r['peak_rss_mb']} (driver) | {r['accuracy']:.4f} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
