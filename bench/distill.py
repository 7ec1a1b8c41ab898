"""The distilled student and the cascade against their teacher, through the scorer, on the bench's
text sets and the teacher's own Amazon test split.

    python -m bench.distill [CASCADE_DIR] [--rows N] [--rounds R] [--name NAME]

Each contender is a `sentiscore score` process of its own with its default variants (the fastest that
passed each export's gate); the rounds go round-robin (teacher, student, cascade, teacher, ...) and
each contender's best scoring phase counts, so a slow spell of a shared host slows all three alike.
Writes bench/results/NAME.{json,md} (default distill).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import texts
from bench.run import BASE_MODEL, REPO, score, write_results

CONTENDERS = ("teacher", "student", "cascade")
# the distillation issue's goals: (contender, text sets, at least this x the teacher's reviews/s)
SPEED_GOALS = [("student", ("review",), 2.5), ("cascade", ("review",), 2.0)]
# (contender, the sets where its accuracy must stay within POINTS of the teacher's)
ACCURACY_GOALS = [("student", ("amazon test",), 2.0), ("cascade", ("amazon test", "short", "review", "long"), 0.5)]
AGREEMENT_GOALS: list[tuple[str, tuple[str, ...], float]] = []
# a base-size teacher (the base recipe's MPNet) and its small student: the base-model issue's goals
BASE_GOALS = {"speed": [("student", ("review",), 3.5), ("cascade", ("review",), 2.5)],
              "accuracy": [("student", ("amazon test", "short", "review", "long"), 2.0)],
              "agreement": [("cascade", ("short", "review", "long"), 0.985)]}


def latest_cascade() -> Path:
    found = sorted(REPO.glob("runs/*/cascade/cascade.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit("bench.distill: no cascade under runs/ (make distill cascade first)")
    return found[-1].parent


def sets(teacher: Path, rows: int, work: Path) -> dict[str, tuple[Path, list[str]]]:
    """Each text set's file and the flags it is scored with (the Amazon test split: the teacher run's own
    held-out rows of the bundled data, picked by --split)."""
    out = {name: (texts.build(name, rows, work), []) for name in texts.SETS}
    out["amazon test"] = (REPO / "data" / "amazon_review_sentences.parquet", ["--split", "test"])
    return out


def measure(cascade: Path, rows: int, rounds: int, work: Path) -> list[dict]:
    spec = json.loads((cascade / "cascade.json").read_text())
    models = {"teacher": Path(spec["teacher"]["run"]), "student": Path(spec["student"]["run"]), "cascade": cascade}
    table = []
    for set_name, (data, flags) in sets(models["teacher"], rows, work).items():
        best: dict[str, dict] = {}
        for _ in range(rounds):
            for name in CONTENDERS:
                r = score(models[name], data, *flags)
                if name not in best or r["scoring_s"] < best[name]["scoring_s"]:
                    best[name] = r
        frame = pd.read_parquet(data, columns=["id", "label"])
        labels = frame["label"].to_numpy()
        if flags:  # the teacher's test split only, in the input's order
            ids = set(pd.read_parquet(models["teacher"] / "splits.parquet").query("split == 'test'")["id"])
            labels = labels[frame["id"].isin(ids).to_numpy()]
        for name in CONTENDERS:
            r = best[name]
            accuracy = float((r["predictions"] == labels).mean())
            agreement = float((r["predictions"] == best["teacher"]["predictions"]).mean())
            table.append({"texts": set_name, "contender": name, "variant": r["variant"], "rows": r["rows"],
                          "reviews_per_s": round(r["rows"] / r["scoring_s"], 1), "accuracy": round(accuracy, 4),
                          "agreement_with_teacher": round(agreement, 4),
                          "teacher_share": r.get("teacher_share"), "peak_rss_mb": r["peak_rss_mb"]})
        teacher = next(t for t in table if t["texts"] == set_name and t["contender"] == "teacher")
        for t in table[-len(CONTENDERS):]:
            t["x_teacher"] = round(t["reviews_per_s"] / teacher["reviews_per_s"], 2)
            t["accuracy_vs_teacher_points"] = round(100 * (t["accuracy"] - teacher["accuracy"]), 2)
            print(json.dumps(t), flush=True)
    return table


def goals(table: list[dict], base_teacher: bool = False) -> list[dict]:
    """The distillation issue's goals, or with BASE_TEACHER the base-model issue's."""
    speed_goals, accuracy_goals, agreement_goals = (
        (BASE_GOALS["speed"], BASE_GOALS["accuracy"], BASE_GOALS["agreement"]) if base_teacher
        else (SPEED_GOALS, ACCURACY_GOALS, AGREEMENT_GOALS))
    by = {(t["contender"], t["texts"]): t for t in table}
    out = []
    for contender, names, share in agreement_goals:
        for name in names:
            value = by[contender, name]["agreement_with_teacher"]
            out.append({"goal": f"{name}: {contender} label agreement with the teacher", "target": f">= {share:.1%}",
                        "measured": f"{value:.2%}", "met": value >= share})
    for contender, names, target in speed_goals:
        for name in names:
            value = by[contender, name]["x_teacher"]
            out.append({"goal": f"{name}: {contender} / teacher, reviews/s", "target": f">= {target}x",
                        "measured": f"{value:.2f}x", "met": value >= target})
    for contender, names, points in accuracy_goals:
        for name in names:
            value = by[contender, name]["accuracy_vs_teacher_points"]
            out.append({"goal": f"{name}: {contender} accuracy vs the teacher's", "target": f"within {points} points",
                        "measured": f"{value:+.2f} points", "met": value >= -points})
    return out


def markdown(results: dict) -> str:
    lines = [f"# The student and the cascade against their teacher: {results['cascade']}, {results['date']}", "",
             f"{results['rows']} rows per bench text set, the teacher's Amazon test split; best scoring phase of "
             f"{results['rounds']} interleaved rounds; each model's default variants.", "",
             "| texts | contender | variant | rows | reviews/s | x teacher | accuracy | pts vs teacher "
             "| agreement with teacher | teacher's share | peak RSS MB |", "|" + "---|" * 11]
    for t in results["table"]:
        share = "" if t["teacher_share"] is None else f"{t['teacher_share']:.1%}"
        lines.append(f"| {t['texts']} | {t['contender']} | {t['variant']} | {t['rows']} | {t['reviews_per_s']} | "
                     f"{t['x_teacher']:.2f} | {t['accuracy']:.4f} | {t['accuracy_vs_teacher_points']:+.2f} | "
                     f"{t.get('agreement_with_teacher', float('nan')):.2%} | {share} "
                     f"| {t['peak_rss_mb']} |")
    lines += ["", "| goal | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {g['goal']} | {g['target']} | {g['measured']} | {'yes' if g['met'] else 'NO'} |"
              for g in results["goals"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cascade", nargs="?", type=Path, help="cascade folder (default: the newest under runs/)")
    parser.add_argument("--rows", type=int, default=2000, help="rows per bench text set (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--name", default="distill", help="results file name under bench/results (default distill)")
    args = parser.parse_args()
    cascade = args.cascade or latest_cascade()
    with tempfile.TemporaryDirectory(prefix="sentiscore-bench-distill-") as tmp:
        table = measure(cascade, args.rows, args.rounds, Path(tmp))
    teacher = Path(json.loads((cascade / "cascade.json").read_text())["teacher"]["run"])
    base_teacher = BASE_MODEL in (teacher / "recipe.toml").read_text()
    results = {"cascade": str(cascade), "rows": args.rows, "rounds": args.rounds, "date": time.strftime("%F"),
               "table": table, "goals": goals(table, base_teacher)}
    write_results(results, args.name, markdown)


if __name__ == "__main__":
    main()
