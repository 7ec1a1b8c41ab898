"""The folder job: one output per input, a ledger that skips what is done, a lock against overlap."""

import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import REPO, SHARED_DATA, one_line_error, run_cli

FAST = ["--window-rows", "256", "--quiet", "--min-age", "0"]


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rt = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"])
    rt.iloc[:300].to_parquet(folder / "a.parquet", index=False)
    rt.iloc[300:500].to_csv(folder / "b.csv", index=False)
    rt.iloc[500:600].to_json(folder / "c.jsonl", orient="records", lines=True)
    return folder


def ledger(out):
    """The ledger's newest entry per input (it is appended to, one JSON line per file)."""
    return {e["key"]: e for e in map(json.loads, (out / "ledger.jsonl").read_text().splitlines())}


def test_scores_each_file_and_skips_what_is_done(exported, inbox, tmp_path):
    out = tmp_path / "out"
    result = run_cli("score", exported, inbox, "-o", out, *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    for name, rows in (("a.parquet", 300), ("b.csv", 200), ("c.jsonl", 100)):
        assert len(pd.read_parquet(out / f"{name}.predictions.parquet")) == rows
        entry = ledger(out)[str((inbox / name).resolve())]
        assert entry["status"] == "scored" and entry["rows"] == rows and len(entry["sha256"]) == 64
    again = run_cli("--log-format", "json", "score", exported, inbox, "-o", out, *FAST)
    assert again.returncode == 0
    events = [json.loads(line) for line in again.stderr.splitlines()]
    assert [e["event"] for e in events] == ["job.start", "file.skipped", "file.skipped", "file.skipped", "job.end"]
    # a changed file scores again; the others stay skipped
    pd.read_parquet(inbox / "a.parquet").head(120).to_parquet(inbox / "a.parquet", index=False)
    third = run_cli("--log-format", "json", "score", exported, inbox, "-o", out, *FAST)
    scored = [e["input"] for e in map(json.loads, third.stderr.splitlines()) if e["event"] == "file.scored"]
    assert scored == [str(inbox / "a.parquet")]
    assert len(pd.read_parquet(out / "a.parquet.predictions.parquet")) == 120
    # a new model (another variant, another hash) scores everything again
    fourth = run_cli("--log-format", "json", "score", exported, inbox, "-o", out, "--precision", "fp32", *FAST)
    assert sum(e["event"] == "file.scored" for e in map(json.loads, fourth.stderr.splitlines())) == 3
    # --overwrite rescores every file, the ledger notwithstanding (it gains one more line per file)
    lines = len((out / "ledger.jsonl").read_text().splitlines())
    fifth = run_cli("--log-format", "json", "score", exported, inbox, "-o", out, "--precision", "fp32", "--overwrite",
                    *FAST)
    assert fifth.returncode == 0, fifth.stderr[-2000:]
    assert sum(e["event"] == "file.scored" for e in map(json.loads, fifth.stderr.splitlines())) == 3
    assert len((out / "ledger.jsonl").read_text().splitlines()) == lines + 3


def test_a_bad_file_does_not_stop_the_others(exported, inbox, tmp_path):
    (inbox / "b2.jsonl").write_text('{"id": "1", "text": "fine"}\nnot json\n')
    out = tmp_path / "out"
    result = run_cli("score", exported, inbox, "-o", out, *FAST)
    assert result.returncode == 2
    summary = json.loads((out / "job.summary.json").read_text())
    outcomes = {os.path.basename(f["input"]): f["outcome"] for f in summary["files"]}
    assert outcomes == {"a.parquet": "scored", "b.csv": "scored", "b2.jsonl": "failed", "c.jsonl": "scored"}
    assert "line 2 is not JSON" in ledger(out)[str((inbox / "b2.jsonl").resolve())]["error"]
    assert not (out / "b2.jsonl.predictions.parquet").exists()
    fast = run_cli("score", exported, inbox, "-o", tmp_path / "out2", "--fail-fast", *FAST)
    assert fast.returncode == 2
    summary = json.loads((tmp_path / "out2" / "job.summary.json").read_text())
    assert summary["failed"] == 1 and summary["not_attempted"] == 1


def test_two_jobs_at_once_and_a_stale_lock(exported, inbox, tmp_path):
    out = tmp_path / "out"
    big = pd.read_parquet(SHARED_DATA / "imdb_reviews.parquet", columns=["id", "text", "label"]).head(3000)
    big.to_parquet(inbox / "big.parquet", index=False)
    first = subprocess.Popen([sys.executable, "-m", "sentiscore.cli", "score", str(exported), str(inbox), "-o",
                              str(out), *FAST], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (out / ".lock").is_file() or not (out / ".lock").read_text():
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.02)
    started = time.time()
    line = one_line_error(run_cli("score", exported, inbox, "-o", out, *FAST))
    assert "another job holds .lock" in line and f"pid {first.pid}" in line
    assert time.time() - started < 30  # it exits at once, without waiting for the lock
    assert first.poll() is None
    first.kill()  # SIGKILL: the lock file stays behind, naming a dead process
    first.wait()
    assert f"pid {first.pid}" in (out / ".lock").read_text()
    shutil.rmtree(inbox / "big.parquet", ignore_errors=True)
    (inbox / "big.parquet").unlink()
    taken = run_cli("--log-format", "json", "score", exported, inbox, "-o", out, *FAST)
    assert taken.returncode == 0, taken.stderr[-2000:]
    events = [json.loads(line) for line in taken.stderr.splitlines()]
    assert events[0]["event"] == "lock.taken_over" and f"pid {first.pid}" in events[0]["previous"]
