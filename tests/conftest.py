"""Shared fixtures: a small real model (MiniLM cut to two layers), briefly fine-tuned once per session."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
BUNDLED = REPO / "data" / "amazon_review_sentences.parquet"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `sentiscore ARGS` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "sentiscore.cli", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """Assert the CLI failed with exit CODE and exactly one line on stderr; return that line."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def run_here(*args: object) -> subprocess.CompletedProcess:
    """Run `sentiscore ARGS` in this process, its stdout and stderr captured; the result as `run_cli`
    gives it. For the stages that import transformers: a fresh interpreter spends 13-20 s importing it
    and optimum on a slow 2-core host, this one has them already. An exception that escapes `main` would
    be a traceback for a user: it fails the test. (What a real process writes past Python's streams,
    and the one-line rule for it, are `run_cli`'s to test.)"""
    import contextlib
    import io

    from sentiscore import cli as entry

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = entry.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """Run the CLI in this process: (exit code, stdout lines, stderr lines)."""
    def run(*argv: object) -> tuple[int, list[str], list[str]]:
        result = run_here(*argv)
        return (result.returncode, result.stdout.splitlines(),
                [line for line in result.stderr.splitlines() if line.strip()])
    return run


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2 cut to its first two layers, saved as safetensors with its tokenizer. Its new
    classification head is drawn from a seeded generator: unseeded, every session's tiny run (and the
    student and cascade made of it) came out different, and a gate at its edge passed or failed by chance."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from sentiscore.encoders import resolve_model
    from sentiscore.labels import ID2LABEL, LABEL2ID
    from sentiscore.recipe import BUNDLED_MINILM

    source = resolve_model(BUNDLED_MINILM)
    config = AutoConfig.from_pretrained(source, num_hidden_layers=2, num_labels=2, id2label=ID2LABEL,
                                        label2id=LABEL2ID)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(source, config=config, use_safetensors=True)
    out = tmp_path_factory.mktemp("tiny-minilm")
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def json_events(stderr: str) -> list[dict]:
    """Every line of a --log-format json run's stderr as its JSON object (a line that is not one fails)."""
    events = []
    for line in stderr.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line in --log-format json output: {line[:300]!r}")
    return events


@pytest.fixture(scope="session")
def trained_run(tiny_model, tmp_path_factory) -> Path:
    """The tiny model fine-tuned briefly on the bundled data through the CLI: a real run folder.
    Run with --log-format json: every line the run writes, the libraries' included, must be JSON."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_cli("--log-format", "json", "finetune", "--model", tiny_model, "--output", run, "--epochs", "2",
                     "--lr", "3e-4", "--max-length", "64", "--max-train-rows", "1200", "--batch-size", "16")
    assert result.returncode == 0, result.stderr[-3000:]
    events = json_events(result.stderr)
    assert events[0]["event"] == "finetune.start" and events[-1]["event"] == "finetune.end"
    assert any(e["event"] == "train.log" and "loss" in e for e in events)
    return run


@pytest.fixture(scope="session")
def exported(trained_run, tmp_path_factory) -> Path:
    """A copy of the tiny run, exported through the CLI with every variant (JSON logs, as above)."""
    import shutil

    run = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(trained_run, run)
    result = run_cli("--log-format", "json", "export", run, "--fp16")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json_events(result.stderr)[-1]["event"] == "export.end"
    return run


@pytest.fixture
def tmpfs(tmp_path):
    """A 96 KB tmpfs of our own, to fill or remount read-only (the tests run as root, as CI does);
    unmounted pass or fail."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def kill_rng() -> random.Random:
    """Random kill points, reproducible: the seed is printed (pytest shows it when a test fails), and
    KILL_SEED=N replays a run."""
    seed = int(os.environ.get("KILL_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"kill points from seed {seed} (rerun with KILL_SEED={seed})")
    return random.Random(seed)


def rotten_tomatoes_file(rows: int, folder: Path) -> Path:
    """The first ROWS real Rotten Tomatoes snippets (id, text, label) as a Parquet file in FOLDER."""
    frame = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"]).head(rows)
    path = folder / f"rt-{rows}.parquet"
    frame.to_parquet(path, index=False)
    return path


def scored(model: Path, data: Path, out: Path, *flags: str) -> pd.DataFrame:
    """Score through the CLI, assert success, return the predictions."""
    import pyarrow.parquet as pq

    result = run_cli("score", model, data, "-o", out, *flags)
    assert result.returncode == 0, result.stderr[-2000:]
    return pq.read_table(out).to_pandas()


def wait_for_parts(out: Path, proc: subprocess.Popen, count: int, poll_s: float = 0.005,
                   timeout_s: float = 180) -> None:
    """Wait until the score job writing OUT has committed COUNT window parts (the moment to inject a fault);
    fail if the job ends first or the wait outlasts TIMEOUT_S."""
    import time

    deadline = time.time() + timeout_s
    while len(list(out.with_name(out.name + ".job").glob("part-*.parquet"))) < count:
        assert proc.poll() is None and time.time() < deadline, "the job ended before the fault could be injected"
        time.sleep(poll_s)


def default_model_file(run: Path) -> str:
    """The file `score` runs by default: the fastest variant that passed, as timed at export (which
    one depends on the machine)."""
    from sentiscore.manifest import VARIANTS, Manifest

    return VARIANTS[Manifest.read(run / "onnx").default_cpu_variant].model_file


def load_metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def write_formats(frame: pd.DataFrame, folder: Path, stem: str = "rows") -> dict[str, Path]:
    """The same rows as Parquet, CSV and JSON Lines."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{stem}.{fmt}" for fmt in ("parquet", "csv", "jsonl")}
    frame.to_parquet(paths["parquet"], index=False)
    # strings quoted: RFC 4180 leaves a bare carriage return inside an unquoted field ambiguous
    # (pandas quotes fields with "\n" but not with "\r"; hypothesis found that one)
    frame.to_csv(paths["csv"], index=False, quoting=csv.QUOTE_NONNUMERIC)
    frame.to_json(paths["jsonl"], orient="records", lines=True, force_ascii=False)
    return paths


@pytest.fixture(scope="session")
def distilled(exported, tmp_path_factory) -> Path:
    """A one-layer student of the tiny exported run, distilled through the CLI on the teacher's training
    rows, 300 unlabelled Rotten Tomatoes snippets and 40 sentences cut from them (JSON logs, as above),
    then exported (dynamic int8 only: quick)."""
    folder = tmp_path_factory.mktemp("distill")
    unlabeled = rotten_tomatoes_file(300, folder)
    run = folder / "student"
    result = run_cli("--log-format", "json", "distill", exported, "--layers", "1", "--unlabeled", unlabeled,
                     "--unlabeled-sentences", "40", "--epochs", "1", "--lr", "3e-4", "--batch-size", "16",
                     "--output", run)
    assert result.returncode == 0, result.stderr[-3000:]
    events = json_events(result.stderr)
    assert events[0]["event"] == "distill.start" and events[-1]["event"] == "distill.end"
    result = run_here("export", run, "--no-static")
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def cascade_dir(distilled, exported) -> Path:
    """The cascade of the student and its teacher, its threshold chosen on the validation split."""
    out = distilled.parent / "cascade"
    result = run_here("cascade", distilled, exported, "--output", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def cascade_reviews(tmp_path_factory) -> Path:
    return rotten_tomatoes_file(600, tmp_path_factory.mktemp("cascade-reviews"))


@pytest.fixture(scope="session")
def split_cascade(distilled, exported, cascade_reviews) -> Path:
    """A cascade whose threshold is the student's median top probability on CASCADE_REVIEWS: the
    teacher re-scores about half of those rows (the tiny pair's own choice may be either extreme)."""
    import numpy as np

    student = scored(distilled, cascade_reviews, cascade_reviews.with_name("student.parquet"), "--quiet")
    threshold = float(np.median(np.maximum(student["prob_positive"], 1 - student["prob_positive"])))
    out = distilled.parent / "split-cascade"
    # a threshold of our choosing, not the gate's: held to no accuracy limit (what it tests is the routing)
    result = run_here("cascade", distilled, exported, "--output", out, "--threshold", threshold, "--no-compare",
                      "--max-acc-drop", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    return out
