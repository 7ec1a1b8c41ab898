"""Try scorer settings one by one on a text set of the benchmark; the log in bench/README.md comes from it.

    python -m bench.tune --texts review --rows 2000 "" "--token-budget 4096" "--threads 1"

Each quoted argument is a set of extra `sentiscore score` flags ("" is the defaults); each runs
REPEATS times in turn and the best scoring-phase reviews/s is kept (noise here only slows runs down).
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from bench import texts
from bench.run import latest_run, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("flag_sets", nargs="+", help='extra flags per contender, e.g. "--token-budget 4096"')
    parser.add_argument("--run", type=Path, help="run or export folder (default: the newest exported run)")
    parser.add_argument("--texts", choices=texts.SETS, default="review")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = args.run or latest_run()
    with tempfile.TemporaryDirectory() as tmp:
        data = texts.build(args.texts, args.rows, Path(tmp))
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for flags in args.flag_sets:
                r = score(model, data, *shlex.split(flags))
                r["reviews_per_s"] = round(r["rows"] / r["scoring_s"], 1)
                if r["reviews_per_s"] > best.get(flags, {}).get("reviews_per_s", 0):
                    best[flags] = r
    for flags, r in best.items():
        print(f"{flags or '(defaults)':40s} {r['reviews_per_s']:8.1f} reviews/s  padded/row "
              f"{r['padded_tokens'] / r['rows']:.1f}  peak RSS {r['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
