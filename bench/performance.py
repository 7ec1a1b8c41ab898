"""docs/performance.md, generated from bench/results/: `python -m bench.performance` (make bench runs it
last). Every figure on that page comes from a results file named beside its table; nothing is pasted.

Tables: the newest `make bench` run's speed against the peers (and its goals), accuracy of every
variant against fp32 on 5,000 rows a set, the fastest variant on each kind of CPU measured, memory
against input size, start-up, the engines, the student and the cascade, and each install's footprint.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
TEXTS = ("short", "review", "long")


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(str(c) for c in row) + " |" for row in rows], ""]


def newest_speed_run() -> tuple[str, dict] | None:
    """The newest make bench (bench.run) results file with throughput rows."""
    runs = [(d["date"], p.stem, d) for p in RESULTS.glob("*.json")
            if isinstance(d := json.loads(p.read_text()), dict) and d.get("speed")]
    return max(runs, key=lambda r: (r[0], r[1]))[1:] if runs else None


def speed_section() -> list[str]:
    found = newest_speed_run()
    if not found:
        return ["No `make bench` results yet.", ""]
    name, run = found
    lines = [f"## Throughput against the peers (`bench/results/{name}.md`, {run['date']}, "
             f"{run['cpu_count']} CPUs)", "",
             "Reviews per second over the scoring phase (read, tokenise, infer, write), best of the run's "
             "repeats; in brackets, the ratio to `transformers.pipeline` on the same rows. *short*: Rotten "
             "Tomatoes snippets; *review*: IMDB reviews cut to product-review lengths; *long*: whole IMDB "
             "reviews (bench/README.md says how they are drawn).", ""]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for row in run["speed"]:
        ratio = f" ({row['x_pipeline']:.2f}x)" if row.get("x_pipeline") else ""
        cells.setdefault((row["model"], row["contender"]), {})[row["texts"]] = f"{row['reviews_per_s']:,.1f}{ratio}"
    rows = [[model, contender, *[by_text.get(t, "") for t in TEXTS]] for (model, contender), by_text in cells.items()]
    lines += table(["model", "contender", *TEXTS], rows)
    if run.get("goals"):
        lines += ["Goals of that run:", ""]
        lines += table(["goal", "target", "measured", "met"],
                       [[g["goal"], g["target"], g["measured"], "yes" if g["met"] else "**no**"] for g in run["goals"]])
    padded = {r["contender"]: r for r in run["speed"] if r["model"] == "minilm" and r["texts"] == "review"}
    ours, theirs = padded.get("sentiscore int8"), padded.get("transformers pipeline")
    lines += ["**Why the scorer is fast.** It sorts each window of rows by length and pads each batch only to "
              "its own longest row, where a pipeline pads its batches in input order to the longest"
              + (f" (review-length texts in that run: {ours['mean_padded']} padded tokens a row against "
                 f"{theirs['mean_padded']}, for {ours['mean_tokens']} real ones)" if ours and theirs else "")
              + "; it runs int8 weights with signed activations where the CPU has a fast path for them, leaves "
              "out onnxruntime's SkipLayerNormalization fusion (slower than the Add + LayerNormalization it "
              "replaces on the CPUs measured), keeps batches near 1,024 padded tokens so activations stay in "
              "cache, tokenises the next window on a second thread, and never imports torch.", ""]
    return lines


def accuracy_section() -> list[str]:
    run = load("accuracy")
    if not run:
        return []
    rows = [[r["texts"], r["variant"] + (" (default)" if r.get("default") else ""), f"{r['accuracy']:.4f}",
             f"{r['accuracy_vs_fp32_pp']:+.2f} ± {r['standard_error_pp']:.2f}", f"{r['agreement_with_fp32']:.1%}"]
            for r in run["table"]]
    return [f"## Accuracy of each variant against fp32 (`bench/results/accuracy.md`, {run['date']}, "
            f"{run['rows']:,} rows a set)", "",
            "Labels as `sentiscore score` writes them; points against the fp32 export with one standard error.", "",
            *table(["texts", "variant", "accuracy", "points vs fp32", "label agreement with fp32"], rows)]


def variants_section() -> list[str]:
    rows = []
    for path in sorted(RESULTS.glob("variants*.json")):
        run = json.loads(path.read_text())
        cpu = run.get("cpu", {})
        flags = ", ".join(f for f in cpu.get("int8_flags", []) if f in ("avx2", "avx512_vnni", "amx_int8")) or "?"
        winners = []
        for texts in TEXTS:
            timed = [r for r in run["table"] if r["texts"] == texts and r.get("reviews_per_s")]
            best = max(timed, key=lambda r: r["reviews_per_s"]) if timed else None
            winners.append(f"{best['variant']} ({best['x_int8']:.2f}x)" if best else "")
        rows.append([f"`{path.stem}.md`", cpu.get("model", "?"), flags, *winners])
    if not rows:
        return []
    return ["## The fastest variant by kind of CPU (`python -m bench.variants`)", "",
            "Each host's fastest CPU variant per text set, in brackets its speed over dynamic int8, all variants "
            "in one process on the scorer's batches. Export times the variants on the host it runs on and the "
            "scorer runs the fastest that passed the gate, so no setting is needed: this table says what to "
            "expect.", "",
            *table(["results", "CPU", "int8 instructions", *TEXTS], rows)]


def memory_and_startup_section() -> list[str]:
    lines = []
    found = [(d["date"], p.stem, d) for p in RESULTS.glob("*.json")
             if isinstance(d := json.loads(p.read_text()), dict) and d.get("memory")]
    if found:
        date, name, run = max(found)
        lines += [f"## Memory against input size (`bench/results/{name}.md`, {date})", "",
                  *table(["rows scored", "peak RSS MB", "reviews/s"],
                         [[f"{int(n):,}", m["peak_rss_mb"], m["reviews_per_s"]] for n, m in run["memory"].items()])]
    startup = load("startup")
    if startup:
        lines += [f"## Start-up (`bench/results/startup.md`, {startup['date']})", "",
                  "A one-row file, the whole process from command to result, five times each, contenders taking "
                  "turns.", "",
                  *table(["contender", "median s", "best s"],
                         [[r["contender"], r["command_to_result_s"], r.get("best_s", "")] for r in startup["startup"]])]
    engines = load("engines")
    if engines and engines.get("engines"):
        lines += [f"## Engines on one machine (`bench/results/engines.md`, {engines['date']})", "",
                  *table(["engine", "rows", "whole command s", "reviews/s"],
                         [[name, e["rows"], e["wall_s"], e["reviews_per_s_whole_command"]]
                          for name, e in engines["engines"].items()])]
    return lines


def distill_section() -> list[str]:
    lines = []
    for path in sorted(RESULTS.glob("distill*.json")):
        run = json.loads(path.read_text())
        lines += [f"## The student and the cascade (`bench/results/{path.stem}.md`, {run['date']}: `{run['cascade']}`)",
                  "", *table(["goal", "target", "measured", "met"],
                             [[g["goal"], g["target"], g["measured"], "yes" if g["met"] else "**no**"]
                              for g in run["goals"]])]
    return lines


def footprint_section() -> list[str]:
    run = load("footprint")
    if not run:
        return []
    return ["## Install footprint (`bench/results/footprint.md`)", "",
            *table(["install", "packages", "size MB", "torch"],
                   [[r["install"], r["distributions"], f"{r['size_mb']:,}", "yes" if r["has_torch"] else "no"]
                    for r in run["rows"]])]


def page() -> str:
    lines = ["# Performance", "",
             "Generated by `python -m bench.performance` from `bench/results/` (`make bench` writes both): edit "
             "the benchmarks, not this page. Absolute speeds belong to the host each run was on (2-core cloud "
             "VMs of different CPUs, dates in each heading); compare ratios within one table. "
             "[bench/README.md](../bench/README.md) says how each benchmark measures and lists every "
             "experiment tried.", "",
             *speed_section(), *accuracy_section(), *variants_section(), *memory_and_startup_section(),
             *distill_section(), *footprint_section()]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(page())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
