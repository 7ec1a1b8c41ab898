"""The fault suite: each fault injected for real; nothing lost, nothing written twice, one clear line.

Faults: SIGKILL at random points (reading, scoring, writing) then rerun; SIGKILL during assembly; a full
disk (a small tmpfs); a read-only output folder (a read-only tmpfs); a truncated CSV; a model folder
with a file missing. (Corrupt Parquet, invalid UTF-8, non-JSON lines, missing text columns and an
altered model file are in test_score.py; two jobs on one folder in test_folder_job.py.)
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiscore.score.job import lock_path, summary_path
from tests.conftest import (
    REPO,
    SHARED_DATA,
    default_model_file,
    one_line_error,
    rotten_tomatoes_file,
    run_cli,
    scored,
    wait_for_parts,
)

FINE = ["--window-rows", "16", "--token-budget", "1024", "--quiet"]  # many small windows: many kill points


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> Path:
    return rotten_tomatoes_file(2000, tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def reference(exported, rows) -> pd.DataFrame:
    return scored(exported, rows, rows.with_name("reference.parquet"), *FINE)


def start(exported, rows, out, *extra):
    args = [sys.executable, "-m", "sentiscore.cli", "score", str(exported), str(rows), "-o", str(out), *FINE, *extra]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def assert_complete(out: Path, reference: pd.DataFrame) -> None:
    result = pq.read_table(out).to_pandas()
    assert result["id"].is_unique
    pd.testing.assert_frame_equal(result, reference)
    assert not out.with_name(out.name + ".job").exists()
    assert not list(out.parent.glob(f".{out.name}.*.tmp"))  # no temporary left behind
    assert lock_path(out).read_text() == ""  # the lock stays, released and empty (score/lock.py says why)


def test_sigkill_at_random_points_then_rerun(exported, rows, reference, tmp_path, kill_rng):
    """Killed while loading and reading, then three times at random numbers of committed windows."""
    out = tmp_path / "out.parquet"
    windows = len(pd.read_parquet(rows, columns=["id"])) // 16 + 1
    proc = start(exported, rows, out)
    time.sleep(kill_rng.uniform(0.2, 1.0))  # start-up: model load, hash check, first reads
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for target in sorted(kill_rng.sample(range(1, windows), 3)):
        proc = start(exported, rows, out, "--resume")
        wait_for_parts(out, proc, target, poll_s=0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not out.exists()
    result = run_cli("score", exported, rows, "-o", out, "--resume", *FINE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_complete(out, reference)


def test_sigkill_while_assembling_the_output(exported, rows, tmp_path):
    """Windows of 4 rows: 500 parts, so writing the output takes long enough to be killed in the act."""
    tiny = ["--window-rows", "4"]
    whole = scored(exported, rows, tmp_path / "whole.parquet", *FINE, *tiny)
    out = tmp_path / "out.parquet"
    windows = len(pd.read_parquet(rows, columns=["id"])) // 4
    proc = start(exported, rows, out, *tiny)
    wait_for_parts(out, proc, windows, poll_s=0.01)
    while not list(tmp_path.glob(".out.parquet.*.tmp")):  # the output's temporary: assembly has begun
        assert proc.poll() is None, "the job finished before assembly could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    result = run_cli("score", exported, rows, "-o", out, "--resume", *FINE, *tiny)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_complete(out, whole)


def test_full_disk_then_resume_after_making_room(exported, rows, reference, tmpfs):
    """A full disk is transient: exit 75, committed windows kept, the retry with --resume finishes."""
    out = tmpfs / "out.parquet"
    line = one_line_error(run_cli("score", exported, rows, "-o", out, *FINE), 75)
    assert "No space left on device" in line and "--resume" in line and str(out) in line
    assert not out.exists() and not summary_path(out).exists()
    committed = list((tmpfs / "out.parquet.job").glob("part-*.parquet"))
    assert committed, "the windows committed before the disk filled were lost"
    earlier = sum(pq.read_metadata(part).num_rows for part in committed)
    subprocess.run(["mount", "-o", "remount,size=16m", str(tmpfs)], check=True)
    result = run_cli("score", exported, rows, "-o", out, "--resume", *FINE)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(summary_path(out).read_text())
    assert summary["resumed"] is True
    assert_complete(out, reference)
    # the summary's rows/s is over the rows this run scored, and its first line says how many it took over
    assert summary["this_run"]["rows"] == summary["rows"] - earlier
    assert summary["rows_per_s"] == pytest.approx(summary["this_run"]["rows"] / summary["seconds"], rel=1e-2)
    assert f"scored {summary['rows']} rows ({earlier} of them by the run this one resumed)" in result.stdout


def test_read_only_output_folder(exported, rows, tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    out = tmpfs / "out.parquet"
    line = one_line_error(run_cli("score", exported, rows, "-o", out, *FINE))
    assert "Read-only file system" in line and str(out) in line
    assert list(tmpfs.iterdir()) == []


@pytest.mark.parametrize("cut", ["inside a quoted field", "inside a row"])
def test_truncated_csv(exported, tmp_path, cut):
    frame = pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"]).head(400)
    frame.loc[399, "text"] = 'the last one, "quoted", with a comma'
    text = frame.to_csv(index=False)
    end = text.rindex('"quoted"') if cut == "inside a quoted field" else text.rindex(",")
    path = tmp_path / "cut.csv"
    path.write_text(text[:end])
    out = tmp_path / "out.parquet"
    line = one_line_error(run_cli("score", exported, path, "-o", out, *FINE))
    assert "cut.csv" in line and ("unreadable" in line or "label" in line)
    assert not out.exists() and not (tmp_path / "out.parquet.job").exists()


@pytest.mark.parametrize("missing", ["the default model", "tokenizer.json", "manifest.json"])
def test_model_folder_with_a_file_missing(exported, rows, tmp_path, missing):
    import shutil

    missing = default_model_file(exported) if missing == "the default model" else missing
    model = tmp_path / "onnx"
    shutil.copytree(exported / "onnx", model)
    (model / missing).unlink()
    line = one_line_error(run_cli("score", model, rows, "-o", tmp_path / "o.parquet", *FINE))
    assert missing in line or "not an export folder" in line
    assert not (tmp_path / "o.parquet").exists()
