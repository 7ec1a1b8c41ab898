"""The `sentiscore` command line: one subcommand per stage, each imported only when it runs."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sentiscore.errors import BadInput, CheckFailed


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{self.prog}: {message}")


def _finetune(args: argparse.Namespace) -> int:
    from finetune.train import summary, train
    from sentiscore.recipe import load_recipe

    recipe = load_recipe(args.recipe, model=args.model, dataset=args.dataset, epochs=args.epochs, lr=args.lr,
                         batch_size=args.batch_size, max_length=args.max_length,
                         max_train_rows=args.max_train_rows, seed=args.seed)
    output = Path(args.output or f"runs/{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    metrics = train(recipe, output)
    print(summary(metrics, output))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sentiscore", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("finetune", help="fine-tune an encoder and write a run folder")
    p.add_argument("--recipe", default="default", help="configs/NAME.toml or a .toml path")
    p.add_argument("--output", help="run folder (default runs/RECIPE-TIMESTAMP)")
    p.add_argument("--model", help="model name or path (overrides the recipe)")
    p.add_argument("--dataset", help="bundled, hub:NAME, a .parquet/.csv/.jsonl file or a folder")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--max-train-rows", type=int)
    p.add_argument("--seed", type=int)
    p.set_defaults(run=_finetune)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand; bad input exits 2, a failed check 1, each with one line on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (BadInput, CheckFailed) as exc:
        if debug:
            raise
        print(f"sentiscore: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sentiscore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
