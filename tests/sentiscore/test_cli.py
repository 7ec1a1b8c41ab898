"""The command line in-process: usage and flag errors are one line and exit 2, before any work."""

import json

import pytest


@pytest.fixture
def errors(cli):
    """Run the CLI and return (exit code, the lines on stderr)."""
    def run(*argv: str) -> tuple[int, list[str]]:
        code, _, err = cli(*argv)
        return code, err
    return run


@pytest.mark.parametrize("argv,message", [
    (["score", "m", "in.parquet", "-o", "out.csv"], "-o out.csv: the output is a .parquet file, or a folder"),
    (["score", "m", "in.parquet", "--window-rows", "0"], "--window-rows 0: must be a positive integer"),
    (["score", "m", "in.parquet", "--batch-size", "-1"], "--batch-size -1: must be a positive integer"),
    (["score", "m", "in.parquet", "--workers", "-1"], "--workers -1: must be a positive integer"),
    (["score", "m", "in.parquet", "--engine", "spark"], "invalid choice: 'spark'"),
    (["score", "m", "in.parquet", "--threads", "0"], "--threads 0: must be a positive integer"),
    (["score", "m", "in.parquet", "--min-age", "-1"], "--min-age -1.0: must be >= 0 seconds"),
    (["score", "m", "in.parquet", "--min-age", "nan"], "--min-age nan: must be >= 0 seconds"),
    (["parity", "x", "--max-rows", "0"], "--max-rows 0: must be >= 1"),
    (["export", "x", "--gate-rows", "-5"], "--gate-rows -5: must be >= 1"),
    (["finetune", "--epochs", "0"], "--epochs must be > 0, got 0.0"),
    (["finetune", "--epochs", "many"], "--epochs: invalid float value: 'many'"),
    (["finetune", "--recipe", "nope"], "--recipe nope: unknown recipe"),
    (["export", "x", "--optimize", "O9"], "--optimize O9: use one of O1, O2, O3"),
    (["parity", "x", "--min-agreement", "2"], "--min-agreement 2.0: must be in [0, 1]"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_flags_are_one_line_and_exit_2(errors, argv, message):
    code, lines = errors(*argv)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_errors_are_json_events_in_json_mode(errors):
    code, lines = errors("--log-format", "json", "score", "m", "in.parquet", "-o", "out.csv")
    assert code == 2 and len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "error" and event["exit_code"] == 2 and "-o out.csv" in event["message"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_log_format_and_debug_work_before_and_after_the_subcommand(errors, where):
    from sentiscore.cli import main
    from sentiscore.errors import BadInput

    command = ["score", "m", "in.parquet", "-o", "out.csv"]
    place = (lambda flags: [*flags, *command]) if where == "before" else (lambda flags: [*command, *flags])
    code, lines = errors(*place(["--log-format", "json"]))
    assert code == 2 and len(lines) == 1 and json.loads(lines[0])["event"] == "error"
    with pytest.raises(BadInput, match="-o out.csv"):  # --debug: the traceback, not the one line
        main(place(["--debug"]))


def test_the_global_flags_default_when_given_nowhere():
    from sentiscore.cli import build_parser

    args = build_parser().parse_args(["score", "m", "in.parquet"])
    assert (args.log_format, args.debug) == ("human", False)


def test_score_batches_by_default_as_the_parity_gate_does():
    # the gate's scorer_logits batches with Settings(); a default written twice could drift from it
    from sentiscore.cli import build_parser
    from sentiscore.score.predict import Settings

    args = build_parser().parse_args(["score", "MODEL", "INPUT"])
    defaults = Settings()
    assert (args.window_rows, args.token_budget, args.batch_size) == \
        (defaults.window_rows, defaults.token_budget, defaults.max_batch_rows)
