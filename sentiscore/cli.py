"""The `sentiscore` command line: parse the flags, call one stage entry point, print its result, and
map failures to exit codes. Each stage is imported only when its subcommand runs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import closing
from pathlib import Path

from sentiscore import log
from sentiscore.errors import ERRORS, BadInput, CheckFailed, Interrupted, interrupt_code


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{self.prog}: {message}")


def _finetune(args: argparse.Namespace):
    from sentiscore.finetune import finetune
    from sentiscore.recipe import load_recipe, recipe_overrides

    return finetune(load_recipe(args.recipe, **recipe_overrides(args)), args.output), "finetune.end", None


def _import(args: argparse.Namespace):
    from sentiscore.finetune.importer import import_checkpoint

    result = import_checkpoint(args.checkpoint, args.data, args.output, max_length=args.max_length,
                               text_columns=args.text_column, label_column=args.label_column)
    return result, "import.end", None


def gate_limits(args: argparse.Namespace):
    from sentiscore.export.gate import Thresholds

    return Thresholds(args.min_agreement, args.max_acc_drop, args.significance, args.min_quantised_agreement)


def _export(args: argparse.Namespace):
    from sentiscore.export import ExportOptions, export

    result = export(args.run_dir, ExportOptions(
        int8=not args.no_int8, static=not args.no_static, fp16=args.fp16, optimize=args.optimize,
        overwrite=args.overwrite, gate_rows=args.gate_rows, limits=gate_limits(args)))
    failed = None if result.parity.passed else \
        CheckFailed(f"{result.folder.path}: parity gate failed ({result.parity.failures()})")
    return result, "export.end", failed


def _parity(args: argparse.Namespace):
    from sentiscore.export import parity

    report = parity(args.run_dir, args.data, args.split, gate_limits(args), args.max_rows)
    failed = None if report.passed else CheckFailed(f"{args.run_dir}: parity failed ({report.failures()})")
    return report, "parity.end", failed


def _distill(args: argparse.Namespace):
    from sentiscore.distill import distill
    from sentiscore.recipe import DistillRecipe, load_recipe, recipe_overrides

    recipe = load_recipe(args.recipe, DistillRecipe, **recipe_overrides(args, DistillRecipe))
    return distill(args.teacher_run, recipe, args.output), "distill.end", None


def _cascade(args: argparse.Namespace):
    from sentiscore.distill import cascade

    result = cascade(args.student_run, args.teacher_run, args.output, args.max_acc_drop, args.overwrite,
                     args.threshold, not args.no_compare)
    failed = None if result.parity.passed else \
        CheckFailed(f"{result.folder.path}: parity gate failed ({result.parity.failures()})")
    return result, "cascade.end", failed


def _score(args: argparse.Namespace):
    from sentiscore.readers import Columns
    from sentiscore.score import EngineOptions, ScoreJob, Settings, make_engine, score

    job = ScoreJob(
        model=args.model, inputs=args.inputs, output=args.output,
        mode="resume" if args.resume else "overwrite" if args.overwrite else "new",
        columns=Columns(tuple(args.text_column) if args.text_column else None, args.id_column, args.label_column),
        min_age=args.min_age,
        split=args.split, precision=args.precision, runtime=args.runtime, provider=args.provider,
        settings=Settings(window_rows=args.window_rows, token_budget=args.token_budget,
                          max_batch_rows=args.batch_size, on_bad_row=args.on_bad_row),
        quiet=args.quiet or log.is_json(), fail_fast=args.fail_fast)
    options = EngineOptions(threads=args.threads, address=args.ray_address, workers=args.workers)
    with closing(make_engine(args.engine, options)) as engine:
        summary = score(job, engine)
    failed = getattr(summary, "failed", 0)
    return summary, "job.end", BadInput(f"{args.output}: {failed} of {len(summary.files)} files failed (each is "
                                        "in its ledger.jsonl and job.summary.json)") if failed else None


def _emit(result, event: str) -> None:
    """A stage's result: lines on stdout for a person, or one JSON event for a log collector."""
    if log.is_json():
        log.event(event, **{k: v for k, v in result.to_dict().items() if k != "files"})
    else:
        print("\n".join(result.lines()), flush=True)


def build_parser() -> argparse.ArgumentParser:
    from sentiscore.recipe import DistillRecipe, add_recipe_flags

    parser = _Parser(prog="sentiscore", description=__doc__, parents=[_global_flags()])
    parser.set_defaults(debug=False, log_format="human")
    # every subcommand takes them too (`sentiscore score ... --debug`); SUPPRESS keeps a subcommand's
    # absent flag from undoing the same flag given before it. main() reads both from argv before parsing.
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _global_flags()

    p = sub.add_parser("finetune", parents=[common], help="fine-tune an encoder and write a run folder")
    p.add_argument("--recipe", default="default", help="a shipped recipe's name (default: default) or a .toml path")
    p.add_argument("--output", type=Path, help="run folder (default runs/RECIPE-TIMESTAMP)")
    add_recipe_flags(p)
    p.set_defaults(run=_finetune)

    p = sub.add_parser("import", parents=[common], help="turn a fine-tuned Hugging Face sequence classifier "
                       "(safetensors) into a run folder that export, parity and score take")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a local folder saved with save_pretrained")
    p.add_argument("--data", action="append", help="SOURCE of rows for the gate and parity, split as finetune "
                   "splits it (repeat; labels, where present, must be the checkpoint's classes; default: the "
                   "bundled sentences' texts, unlabelled)")
    p.add_argument("--output", type=Path, help="run folder (default runs/import-TIMESTAMP)")
    p.add_argument("--max-length", type=int, help="tokens per text after truncation (default 128)")
    p.add_argument("--text-column", action="append", help="text column; several are joined with '. '")
    p.add_argument("--label-column", help="label column of --data: class indices or names (default label)")
    p.set_defaults(run=_import)

    gate = argparse.ArgumentParser(add_help=False)
    gate.add_argument("--max-acc-drop", type=float, default=0.5, metavar="PP",
                      help="largest accuracy or macro-F1 drop of int8/fp16 in points, unless McNemar's test calls "
                           "it chance (default 0.5)")
    gate.add_argument("--significance", type=float, default=0.05, metavar="P",
                      help="a drop over --max-acc-drop fails only where McNemar's exact p is below this (default 0.05)")
    gate.add_argument("--min-agreement", type=float, default=0.999, metavar="F",
                      help="smallest fp32 label agreement (default 0.999)")
    gate.add_argument("--min-quantised-agreement", type=float, default=0.97, metavar="F",
                      help="smallest int8/fp16 label agreement (default 0.97)")

    p = sub.add_parser("export", parents=[gate, common],
                       help="export a run to ONNX (fp32, int8 dynamic and static, OpenVINO int8, fp16), gate each "
                            "on parity, time the CPU variants")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--no-int8", action="store_true", help="skip every int8 variant")
    p.add_argument("--no-static", action="store_true",
                   help="skip the static int8 variants (onnxruntime QDQ, OpenVINO): dynamic int8 only")
    p.add_argument("--fp16", action="store_true", help="also write the fp16 variant for CUDA")
    p.add_argument("--optimize", default="O2", help="graph optimisation level: O1, O2 (default) or O3")
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR/onnx")
    p.add_argument("--gate-rows", type=int, help="gate on at most N validation rows (default all; then unlabelled "
                   "training texts up to 2,000 rows for agreement)")
    p.set_defaults(run=_export)

    p = sub.add_parser("parity", parents=[gate, common], help="compare the PyTorch checkpoint with every ONNX variant")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, or a cascade folder (against its teacher)")
    p.add_argument("--data", help="SOURCE to compare on, whole unless --split (default: the run's own data)")
    p.add_argument("--split", help="train, validation, test or all (default: validation of the run's own data)")
    p.add_argument("--max-rows", type=int, help="compare on the first N rows only")
    p.set_defaults(run=_parity)

    p = sub.add_parser("distill", parents=[common], help="distil an exported teacher run into a smaller student run")
    p.add_argument("teacher_run", metavar="TEACHER_RUN", help="an exported run folder")
    p.add_argument("--recipe", default="distill", help="a shipped distill recipe's name (default: distill) or a "
                   ".toml path")
    p.add_argument("--output", type=Path, help="student run folder (default runs/RECIPE-TIMESTAMP)")
    add_recipe_flags(p, DistillRecipe)
    p.set_defaults(run=_distill)

    p = sub.add_parser("cascade", parents=[common], help="a student and its teacher in one model folder: the "
                       "teacher scores the rows the student is unsure of")
    p.add_argument("student_run", metavar="STUDENT_RUN", help="an exported student run (sentiscore distill)")
    p.add_argument("teacher_run", metavar="TEACHER_RUN", nargs="?",
                   help="its exported teacher run (default: the teacher the student was distilled from)")
    p.add_argument("--output", type=Path, help="cascade folder (default STUDENT_RUN/cascade)")
    p.add_argument("--max-acc-drop", type=float, default=0.5, metavar="PP",
                   help="the threshold keeps the cascade within PP points of the teacher's own labels on the "
                   "gate's rows (default 0.5)")
    p.add_argument("--threshold", type=float, help="a fixed threshold on the student's top probability instead "
                   "(0: the student scores every row, 1.01: the teacher does)")
    p.add_argument("--no-compare", action="store_true", help="skip the table of every model on the test split "
                   "(metrics.json, report.md), which trains the RNN and LSTM baselines")
    p.add_argument("--overwrite", action="store_true", help="replace an existing cascade folder")
    p.set_defaults(run=_cascade)

    from sentiscore.score.engines import ENGINES
    from sentiscore.score.predict import Settings  # the batching defaults: the parity gate batches with them too

    p = sub.add_parser("score", parents=[common], help="score review files or dataset splits with an exported model")
    p.add_argument("model", metavar="MODEL", help="an export folder (RUN_DIR/onnx), a run folder, or a cascade folder")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help=".parquet/.csv/.jsonl files, folders, bundled, hub:NAME")
    p.add_argument("-o", "--output", help="output .parquet (default: INPUT's name + .predictions.parquet), "
                   "or a folder (no suffix) for a folder job")
    p.add_argument("--text-column", action="append", help="text column; several are joined with '. '")
    p.add_argument("--id-column", help="id column, which must exist (default: 'id' where the input has it, "
                   "else row numbers, said in the summary)")
    p.add_argument("--label-column", default="label", help="true labels, for metrics (optional)")
    p.add_argument("--split", help="hub:NAME inputs: the split to read (default test); files: only the rows "
                   "of that split of MODEL's run")
    p.add_argument("--precision", help="int8 (the fastest int8 variant), fp32, fp16, or a variant (int8-dynamic, "
                   "int8-static, openvino-int8); default: on the CPU the fastest variant that passed the gate, as "
                   "timed at export; fp16 on CUDA")
    p.add_argument("--runtime", help="onnxruntime or openvino (default: the runtime of the variant chosen)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=Settings.max_batch_rows,
                   help=f"most rows in a batch (default {Settings.max_batch_rows})")
    p.add_argument("--token-budget", type=int, default=Settings.token_budget,
                   help=f"most padded tokens in a batch (default {Settings.token_budget})")
    p.add_argument("--window-rows", type=int, default=Settings.window_rows,
                   help=f"rows sorted together by length (default {Settings.window_rows})")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: one per core; "
                   "with --engine ray, per actor: default 1)")
    p.add_argument("--engine", default="local", choices=list(ENGINES),
                   help="local (default) or ray: the same windows scored by actors on a Ray cluster")
    p.add_argument("--ray-address", help="an existing Ray cluster, e.g. 10.0.0.5:6379 (default: start one here)")
    p.add_argument("--workers", type=int, help="Ray actors (default: one per CPU of the cluster)")
    p.add_argument("--on-bad-row", default="skip", choices=["skip", "fail"],
                   help="rows without text: skip and count them (default), or fail the job")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue a killed job")
    again.add_argument("--overwrite", action="store_true", help="replace an existing output or partial job")
    p.add_argument("--fail-fast", action="store_true", help="folder job: stop at the first file that fails")
    p.add_argument("--min-age", type=float, default=60.0, metavar="SECONDS",
                   help="folder job: leave files modified in the last SECONDS for the next run (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_score)
    return parser


def _global_flags() -> argparse.ArgumentParser:
    """--debug and --log-format, taken before the subcommand and after it alike."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    flags.add_argument("--log-format", choices=["human", "json"], default=argparse.SUPPRESS,
                       help="json: one JSON object per line on stderr, for log collectors (default human)")
    return flags


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand; bad input exits 2, a failed check 1, each with one line on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    previous = signal.signal(signal.SIGTERM, _terminate)  # a stop (systemd, Kubernetes) ends like Ctrl-C
    log.configure("json" if "--log-format=json" in argv or _after(argv, "--log-format") == "json" else "human")
    try:
        args = build_parser().parse_args(argv)
        result, event, failed = args.run(args)
        _emit(result, event)
        if failed:
            raise failed
        return 0
    except ERRORS as exc:
        if debug:
            raise
        log.error(str(exc), exc.exit_code)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # a scoring-only install asked for the training side
        if debug:
            raise
        line = (f"sentiscore: this needs {exc.name}, which is not installed here (a scoring-only install?): "
                "pip install 'sentiscore[train]'")
        log.error(line, BadInput.exit_code)
        return BadInput.exit_code
    except (KeyboardInterrupt, Interrupted) as exc:  # outside a job: nothing to leave consistent
        log.error("interrupted", interrupt_code(exc))
        return interrupt_code(exc)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted(128 + signum)  # 143: the shell's code for a process ended by SIGTERM


def _after(argv: list[str], flag: str) -> str | None:
    """The value after FLAG in ARGV (the log format is set up before the flags are parsed, so that
    a usage error is reported in the format asked for)."""
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


if __name__ == "__main__":
    sys.exit(main())
