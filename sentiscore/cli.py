"""The `sentiscore` command line: one subcommand per stage, each imported only when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sentiscore import log
from sentiscore.errors import BadInput, CheckFailed, OutputError


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


def _export(args: argparse.Namespace) -> int:
    from export.onnx_export import export
    from export.parity import format_table
    from export.report import write_report

    run_dir = Path(args.run_dir)
    report = export(run_dir, int8=not args.no_int8, fp16=args.fp16, level=args.optimize,
                    overwrite=args.overwrite, gate_rows=args.gate_rows)
    print(f"exported to {run_dir / 'onnx'}; parity on the validation split ({report['rows']} rows):")
    print(format_table(report))
    if report["int8_failed_every_recipe"]:
        print("WARNING: int8 failed the parity gate with every recipe tried "
              f"({', '.join(a['recipe'] for a in report['int8_attempts'])}); no int8 variant was kept and "
              "fp32 is the default CPU variant", file=sys.stderr)
    print(f"report: {write_report(run_dir)}")
    if not report["passed"]:
        raise CheckFailed(f"{run_dir / 'onnx'}: parity gate failed (see parity.json)")
    return 0


def _parity(args: argparse.Namespace) -> int:
    from export.parity import Thresholds, format_table, parity, rows_of_run, torch_logits
    from export.report import write_report
    from sentiscore import atomic
    from sentiscore.onnx_model import export_folder, load_tokenizer

    run_dir = Path(args.run_dir)
    folder = export_folder(run_dir)
    rows = rows_of_run(run_dir, args.split, args.data, args.max_rows)
    tokenizer = load_tokenizer(folder, json.loads((folder / "manifest.json").read_text())["max_length"])
    reference = torch_logits(run_dir / "checkpoint", tokenizer, rows["text"].tolist())
    report = parity(folder, rows, reference, limits=Thresholds(args.min_agreement, args.max_acc_drop))
    report.update(data=args.data or "recipe dataset", split=args.split)
    atomic.write_json(folder / "parity.json", report)
    print(f"parity on {report['data']}, split {args.split} ({report['rows']} rows):")
    print(format_table(report))
    print(f"report: {write_report(run_dir)}")
    if not report["passed"]:
        failed = [f"{n}: {'; '.join(v['failures'])}" for n, v in report["variants"].items() if not v["passed"]]
        raise CheckFailed(f"{folder}: parity failed ({' | '.join(failed)})")
    return 0


def _folder_job(opts, args: argparse.Namespace) -> int:
    """-o OUTPUT_DIR: every input file into its own output, with a ledger and a lock."""
    from score.folder_job import run_folder_job

    if args.resume or args.overwrite:
        raise BadInput("--resume/--overwrite: a folder job (-o OUTPUT_DIR) resumes and rescores by itself")
    result = run_folder_job(opts, args.inputs, Path(args.output), args.fail_fast)
    if not log.is_json():
        for f in result["files"]:
            print(f"{f['outcome']:>8}  {f['input']}" + (f"  ({f['rows']} rows)" if "rows" in f else "")
                  + (f"  {f['error']}" if "error" in f else ""))
        print(f"{result['scored']} scored, {result['skipped']} skipped, {result['failed']} failed, "
              f"{result['not_attempted']} not attempted; ledger in {args.output}")
    return 2 if result["failed"] else 0


def _score(args: argparse.Namespace) -> int:
    from score.predict import Settings
    from score.readers import Columns
    from score.run import ScoreOptions, score

    for flag in ("window_rows", "token_budget", "batch_size"):
        if getattr(args, flag) <= 0:
            raise BadInput(f"--{flag.replace('_', '-')} must be positive")
    opts = ScoreOptions(
        model=args.model, columns=Columns(args.text_column, args.id_column, args.label_column), split=args.split,
        precision=args.precision, provider=args.provider, engine=args.engine, threads=args.threads,
        ray_address=args.ray_address, workers=args.workers, quiet=args.quiet or log.is_json(),
        settings=Settings(window_rows=args.window_rows, token_budget=args.token_budget,
                          max_batch_rows=args.batch_size, on_bad_row=args.on_bad_row))
    if args.output and not args.output.endswith(".parquet"):
        return _folder_job(opts, args)
    mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"
    summary = score(opts, args.inputs, args.output, mode)
    if log.is_json():
        log.event("job.end", **summary)
        return 0
    skipped = summary["skipped"]
    print(f"scored {summary['rows']} rows in {summary['seconds']:.1f} s ({summary['rows_per_s']} rows/s) "
          f"with {summary['precision']} on {summary['provider']}; skipped {skipped['rows']} {skipped['reasons'] or ''}")
    if "metrics" in summary:
        m = summary["metrics"]
        print(f"accuracy {m['accuracy']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
              f"F1 {m['f1']:.4f}")
    print(f"output: {summary['output']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sentiscore", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--log-format", default="human", choices=["human", "json"],
                        help="json: one JSON object per event on stderr, for log collectors")
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

    p = sub.add_parser("export", help="export a run to ONNX (fp32, int8, fp16) and gate it on parity")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 variant")
    p.add_argument("--fp16", action="store_true", help="also write the fp16 variant for CUDA")
    p.add_argument("--optimize", default="O2", help="graph optimisation level: O1, O2 (default) or O3")
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR/onnx")
    p.add_argument("--gate-rows", type=int, help="gate on at most N validation rows (default all)")
    p.set_defaults(run=_export)

    p = sub.add_parser("parity", help="compare the PyTorch checkpoint with every ONNX variant")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", help="SOURCE to compare on (default: the run's data set)")
    p.add_argument("--split", default="validation", help="train, validation, test or all (default validation)")
    p.add_argument("--max-rows", type=int, help="compare on the first N rows only")
    p.add_argument("--max-acc-drop", type=float, default=0.5, metavar="PP",
                   help="largest accuracy drop of int8/fp16 in points (default 0.5)")
    p.add_argument("--min-agreement", type=float, default=0.999, metavar="F",
                   help="smallest fp32 label agreement (default 0.999)")
    p.set_defaults(run=_parity)

    p = sub.add_parser("score", help="score review files or dataset splits with an exported model")
    p.add_argument("model", metavar="MODEL", help="an export folder (RUN_DIR/onnx) or a run folder")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help=".parquet/.csv/.jsonl files, folders, hub:NAME")
    p.add_argument("-o", "--output", help="output .parquet (default: INPUT's name + .predictions.parquet)")
    p.add_argument("--text-column", action="append", help="text column; several are joined with '. '")
    p.add_argument("--id-column", default="id")
    p.add_argument("--label-column", default="label", help="true labels, for metrics (optional)")
    p.add_argument("--split", help="split of a hub:NAME input (default test)")
    p.add_argument("--precision", choices=["int8", "fp32", "fp16"], help="variant (default: int8 on CPU, fp16 on CUDA)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=256, help="most rows in a batch (default 256)")
    p.add_argument("--token-budget", type=int, default=1024, help="most padded tokens in a batch (default 1024)")
    p.add_argument("--window-rows", type=int, default=2048, help="rows sorted together by length (default 2048)")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: one per core)")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local (default) or ray: the same windows scored by actors on a Ray cluster")
    p.add_argument("--ray-address", help="an existing Ray cluster, e.g. 10.0.0.5:6379 (default: start one here)")
    p.add_argument("--workers", type=int, help="Ray actors (default: one per CPU of the cluster)")
    p.add_argument("--on-bad-row", default="skip", choices=["skip", "fail"],
                   help="rows without text: skip and count them (default), or fail the job")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue a killed job")
    again.add_argument("--overwrite", action="store_true", help="replace an existing output or partial job")
    p.add_argument("--fail-fast", action="store_true", help="folder job: stop at the first file that fails")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand; bad input exits 2, a failed check 1, each with one line on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        args = build_parser().parse_args(argv)
        log.configure(args.log_format)
        return args.run(args)
    except (BadInput, CheckFailed, OutputError) as exc:
        if debug:
            raise
        if log.is_json():
            log.event("error", message=str(exc), exit_code=exc.exit_code)
        else:
            print(f"sentiscore: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sentiscore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
