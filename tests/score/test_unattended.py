"""Unattended runs: each messy input or operating condition a nightly job meets ends in an output with
every row accounted for, or in one line with the exit code an orchestrator acts on (0, 1, 2, 75,
130/143), never a traceback, never rows lost, doubled or scored by another model.

In-process through `sentiscore.cli.main` (the `cli` fixture fails a test on any exception that
escapes it); in a subprocess only where a signal, a hang or another process is the point.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiscore import readers
from sentiscore.manifest import Manifest
from sentiscore.onnx_model import OnnxModel
from sentiscore.score import engines as registry
from sentiscore.score.batching import Window
from sentiscore.score.job import job_dir, lock_path, summary_path
from sentiscore.score.lock import locked
from sentiscore.score.predict import Settings, infer, prepare
from tests.conftest import REPO, SHARED_DATA, json_events, rotten_tomatoes_file, run_cli

Q = ["--quiet", "--window-rows", "32"]


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    """200 real Rotten Tomatoes snippets: id, text, label."""
    return pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet", columns=["id", "text", "label"]).head(200)


def summary_of(out: Path) -> dict:
    return json.loads(summary_path(out).read_text())


def write_jsonl(path: Path, rows: list, prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + "".join(json.dumps(r) + "\n" for r in rows).encode())
    return path


def assert_failed_cleanly(code, err, expected_code, *words, out=None):
    assert code == expected_code and len(err) == 1, err
    for word in words:
        assert word in err[0], err
    if out is not None:
        assert not out.exists() and not summary_path(out).exists()


# ---- odd rows score what they can and count the rest ----

def test_odd_rows_and_labels_in_json_lines(exported, reviews, tmp_path, cli, monkeypatch):
    """Null and missing ids, texts that are not strings, string labels (the model's own names), labels
    that mean nothing, and a label column only in later lines: every row accounted for, no abort."""
    monkeypatch.setattr(readers, "CHUNK_ROWS", 8)  # the label key first appears in a later chunk
    good = reviews.head(40).to_dict("records")
    rows = [{"id": r["id"], "text": r["text"]} for r in good[:20]]
    rows += [{"id": None, "text": "no id here"}, {"text": "no id key either"}, {"id": 1, "text": 5},
             {"id": 2, "text": ["a", "list"]}, {"id": 3, "text": {"an": "object"}}]
    names = {0: "Negative", 1: "POSITIVE"}
    rows += [{"id": r["id"], "text": r["text"], "label": names[r["label"]]} for r in good[20:30]]
    rows += [{"id": r["id"], "text": r["text"], "label": r["label"]} for r in good[30:39]]
    rows += [{"id": good[39]["id"], "text": good[39]["text"], "label": "great"}]
    path = write_jsonl(tmp_path / "odd.jsonl", rows)
    out = tmp_path / "odd.parquet"
    code, _, err = cli("score", exported, path, "-o", out, *Q)
    assert code == 0, err
    summary = summary_of(out)
    assert summary["skipped"]["reasons"] == {"null_id": 2, "text_not_string": 3}
    assert summary["rows"] == 40 and summary["labelled_rows"] == 19 and summary["invalid_labels"] == 1
    table = pq.read_table(out).to_pandas()
    assert table["id"].tolist() == [r["id"] for r in good]
    truth = table.set_index("id")["label_true"]
    assert truth[good[0]["id"]] is pd.NA or pd.isna(truth[good[0]["id"]])  # no label: null, not 0
    assert truth[good[20]["id"]] == good[20]["label"] and pd.isna(truth[good[39]["id"]])
    assert summary["metrics"]["rows"] == 19


def test_json_lines_with_a_byte_order_mark_and_csv_with_one(exported, reviews, tmp_path, cli):
    rows = reviews.head(30)
    paths = [write_jsonl(tmp_path / "bom.jsonl", rows.to_dict("records"), prefix=b"\xef\xbb\xbf"),
             tmp_path / "bom.csv"]
    paths[1].write_bytes(b"\xef\xbb\xbf" + rows.to_csv(index=False).encode())
    for path in paths:
        out = tmp_path / f"{path.suffix[1:]}.parquet"
        code, _, err = cli("score", exported, path, "-o", out, *Q)
        assert code == 0, err
        assert pq.read_table(out)["id"].to_pylist() == rows["id"].tolist()  # `id` read as `id`, not "\ufeffid"


def test_a_json_line_that_is_not_an_object(exported, reviews, tmp_path, cli):
    path = tmp_path / "list.jsonl"
    write_jsonl(path, reviews.head(2).to_dict("records") + [["id", "text"]])
    out = tmp_path / "o.parquet"
    assert_failed_cleanly(*cli("score", exported, path, "-o", out, *Q)[::2], 2, "list.jsonl",
                          "line 3 is JSON but not an object (list)", out=out)
    assert not job_dir(out).exists()


def test_csv_null_id_and_a_row_longer_than_the_readers_block(exported, reviews, tmp_path, cli):
    """A 6 MB review (pyarrow reads CSV in 4 MB blocks) is read, cut before tokenising, and scored."""
    frame = reviews.head(20).copy()
    frame.loc[5, "text"] = "a fine film, " * 500_000
    frame.loc[9, "id"] = None
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "long.parquet"
    code, _, err = cli("score", exported, path, "-o", out, *Q)
    assert code == 0, err
    assert summary_of(out)["skipped"]["reasons"] == {"null_id": 1} and summary_of(out)["rows"] == 19
    first = frame.loc[[0]].copy()
    first.loc[0, "text"] = "x" * 6_000_000  # a 6 MB first row: the header and the first block at once
    first.to_csv(path, index=False)
    code, _, err = cli("score", exported, path, "-o", out, "--overwrite", *Q)
    assert code == 0 and summary_of(out)["rows"] == 1, err


def test_labelled_and_unlabelled_inputs_in_one_job(exported, reviews, tmp_path, cli):
    """Metrics over the labelled rows; a `source` column tells the inputs apart; row-number ids said."""
    labelled = tmp_path / "labelled.parquet"
    reviews.head(50).to_parquet(labelled, index=False)
    unlabelled = tmp_path / "plain.csv"
    reviews.iloc[50:80][["text"]].to_csv(unlabelled, index=False)  # no label, no id column
    out = tmp_path / "both.parquet"
    code, stdout, err = cli("score", exported, labelled, unlabelled, "-o", out, *Q)
    assert code == 0, err
    table = pq.read_table(out).to_pandas()
    assert table["source"].tolist() == [str(labelled)] * 50 + [str(unlabelled)] * 30
    assert table["label_true"].isna().sum() == 30 and table["id"].tolist()[50:] == [str(i) for i in range(30)]
    summary = summary_of(out)
    assert summary["metrics"]["rows"] == 50 and summary["ids"] == "row numbers"
    assert any("ids: row numbers" in line and "source" in line for line in stdout)
    code, _, err = cli("score", exported, unlabelled, "-o", tmp_path / "x.parquet", "--id-column", "review", *Q)
    assert_failed_cleanly(code, err, 2, "plain.csv", "no id column 'review'")


def test_parquet_reads_only_the_columns_it_uses(reviews, tmp_path, monkeypatch):
    """An embedding column beside the text is never read (constant memory whatever else a file holds)."""
    frame = reviews.head(50).assign(embedding=[np.ones(4096, np.float32)] * 50, review_id="r")
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path, index=False)
    asked = []
    iter_batches = pq.ParquetFile.iter_batches

    def spy(self, *args, columns=None, **kwargs):
        asked.append(columns)
        return iter_batches(self, *args, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    chunks = list(readers.read_chunks(str(path)))
    assert asked == [["text", "id", "label", "review_id"]] and sum(len(c.ids) for c in chunks) == 50


def test_non_finite_logits_are_counted_not_label_0(exported):
    """A row the model gives NaN for (an fp16 overflow, a broken export) is skipped and counted."""
    model = OnnxModel.load(exported, "int8")
    real = model.run

    def poisoned(feeds):
        logits = real(feeds)
        logits[0] = np.nan
        return logits

    model.run = poisoned
    window = Window(0, 0, 0, ["a", "b", "c"], ["great", "awful film", "fine"], [1, 0, None])
    table, stats = infer(model, prepare(model, window, Settings(max_batch_rows=1), "x"), Settings(), "x")
    assert stats["skipped"] == {"non_finite_logits": 3} and table.num_rows == 0
    model.run = lambda feeds: np.where(np.arange(len(feeds["input_ids"]))[:, None] == 0, np.nan, real(feeds))
    table, stats = infer(model, prepare(model, window, Settings(), "x"), Settings(), "x")
    assert stats["skipped"] == {"non_finite_logits": 1} and table.num_rows == 2
    with pytest.raises(readers.BadInput, match="NaN or infinite logits"):
        infer(model, prepare(model, window, Settings(on_bad_row="fail"), "x"), Settings(on_bad_row="fail"), "x")


# ---- flags and places ----

def test_flags_and_places_that_make_no_sense(exported, reviews, tmp_path, cli, monkeypatch):
    path = tmp_path / "in" / "r.parquet"
    path.parent.mkdir()
    reviews.head(10).to_parquet(path, index=False)
    code, _, err = cli("score", exported, path, "--precision", "fp16", "--provider", "cpu", *Q)
    assert_failed_cleanly(code, err, 2, "--precision fp16", "CUDA")
    code, _, err = cli("score", exported, path.parent, "-o", path.parent / "out.parquet", *Q)
    assert_failed_cleanly(code, err, 2, "inside the input folder", "read its own output back")
    code, _, err = cli("score", exported, path, "-o", path, *Q)
    assert_failed_cleanly(code, err, 2, "that is an INPUT")
    monkeypatch.chdir(path.parent)
    code, _, err = cli("score", exported, ".", *Q)  # writes beside the folder, not into it
    assert code == 0, err
    assert (tmp_path / "in.predictions.parquet").is_file() and sorted(os.listdir(path.parent)) == ["r.parquet"]


def test_resume_never_replaces_a_finished_output(exported, reviews, tmp_path, cli):
    path = tmp_path / "r.parquet"
    reviews.head(10).to_parquet(path, index=False)
    out = tmp_path / "o.parquet"
    code, _, err = cli("score", exported, path, "-o", out, "--resume", *Q)  # no job yet: --resume starts one
    assert code == 0, err
    before = out.read_bytes()
    code, _, err = cli("score", exported, path, "-o", out, "--resume", *Q)
    assert_failed_cleanly(code, err, 2, "already finished, no partial job to resume", "--overwrite")
    assert out.read_bytes() == before


def test_a_second_job_on_the_same_output_is_refused(exported, reviews, tmp_path, cli):
    """An orchestrator's retry overlapping a live job: the second exits at once and touches nothing."""
    path = tmp_path / "r.parquet"
    reviews.head(10).to_parquet(path, index=False)
    out = tmp_path / "o.parquet"
    with locked(lock_path(out), "first job"):
        code, _, err = cli("score", exported, path, "-o", out, "--overwrite", *Q)
    assert_failed_cleanly(code, err, 2, "another job holds .o.parquet.lock", f"pid {os.getpid()}", out=out)
    assert not job_dir(out).exists()
    code, _, err = cli("score", exported, path, "-o", out, *Q)  # released: the next job runs
    assert code == 0, err


# ---- a window scored by another model stops the job ----

class OtherModelEngine:
    """The local engine, except that windows from the third on come back from 'another model', as from a
    Ray actor on a node with another export."""

    name = "other"

    def __init__(self, options):
        from sentiscore.score.local import LocalEngine

        self.local = LocalEngine(options)
        self.workers = 1

    def open(self, model):
        return self.local.open(model)

    def scored(self, pending):
        for done in self.local.scored(pending):
            if done.window.index >= 2:
                done.stats["model_hash"] = "f" * 64
            yield done

    def close(self):
        self.local.close()


def test_a_window_scored_by_another_model_stops_the_job(exported, tmp_path, cli, monkeypatch):
    monkeypatch.setitem(registry.ENGINES, "other", f"{__name__}:OtherModelEngine")
    data = rotten_tomatoes_file(200, tmp_path)
    out = tmp_path / "o.parquet"
    code, _, err = cli("score", exported, data, "-o", out, "--engine", "other", *Q)
    assert_failed_cleanly(code, err, 1, "window 2", "scored with model ffffffffffff", "--resume", out=out)
    assert sorted(p.name for p in job_dir(out).glob("part-*")) == ["part-00000-000000000.parquet",
                                                                   "part-00000-000000001.parquet"]
    code, _, err = cli("score", exported, data, "-o", out, "--resume", *Q)
    assert code == 0 and summary_of(out)["resumed"] and summary_of(out)["rows"] == 200, err


# ---- transient failures keep committed work; a changed input starts again ----

class GrowingInputEngine(OtherModelEngine):
    """The local engine, while another process is still appending rows to the input CSV."""

    name = "growing"
    path: Path | None = None

    def scored(self, pending):
        for done in self.local.scored(pending):
            if done.window.index == 1:
                with open(self.path, "a") as f:
                    f.write("late-1,a late review that is still being copied,1\n")
            yield done


def test_an_input_still_being_written_exits_75_and_the_retry_takes_it_whole(exported, reviews, tmp_path, cli,
                                                                            monkeypatch):
    path = tmp_path / "incoming.csv"
    reviews.head(100).to_csv(path, index=False)
    monkeypatch.setattr(GrowingInputEngine, "path", path)
    monkeypatch.setitem(registry.ENGINES, "growing", f"{__name__}:GrowingInputEngine")
    out = tmp_path / "o.parquet"
    code, _, err = cli("score", exported, path, "-o", out, "--engine", "growing", *Q)
    assert_failed_cleanly(code, err, 75, "incoming.csv: changed while it was being scored", out=out)
    code, _, err = cli("score", exported, path, "-o", out, "--resume", *Q)
    assert code == 0 and any("job.restarted" in line for line in err), err
    assert pq.read_table(out)["id"].to_pylist() == [*reviews["id"].head(100), "late-1"]



def failing_reads(monkeypatch, after_chunks: int) -> None:
    """Reads of Parquet files fail with EIO after AFTER_CHUNKS chunks (a flaky network disk)."""
    monkeypatch.setattr(readers, "CHUNK_ROWS", 32)
    frames = readers.FORMATS[".parquet"].frames

    def flaky(path, select):
        for number, frame in enumerate(frames(path, select)):
            if number == after_chunks:
                raise OSError(errno.EIO, "Input/output error")
            yield frame

    monkeypatch.setitem(readers.FORMATS, ".parquet", readers.Format(flaky, readers.FORMATS[".parquet"].count_rows))


def test_a_transient_read_error_exits_75_and_keeps_committed_windows(exported, tmp_path, cli, monkeypatch):
    data = rotten_tomatoes_file(300, tmp_path)
    reference = tmp_path / "reference.parquet"
    assert cli("score", exported, data, "-o", reference, *Q)[0] == 0
    out = tmp_path / "o.parquet"
    with monkeypatch.context() as patch:
        failing_reads(patch, after_chunks=4)
        code, _, err = cli("score", exported, data, "-o", out, *Q)
    assert_failed_cleanly(code, err, 75, "rt-300.parquet", "Input/output error", "retry", out=out)
    assert len(list(job_dir(out).glob("part-*"))) == 4  # 4 chunks of 32 rows: 4 windows of 32
    code, _, err = cli("score", exported, data, "-o", out, "--resume", *Q)
    assert code == 0 and summary_of(out)["resumed"], err
    assert pq.read_table(out).equals(pq.read_table(reference))


def test_resume_sees_a_rewritten_file_with_the_same_size_and_date(exported, reviews, tmp_path, cli, monkeypatch):
    """Content, not size and mtime, names the job: a partial job of other content starts again."""
    frame = reviews.head(100)
    path = tmp_path / "r.parquet"
    frame.to_parquet(path, index=False, compression=None)
    out = tmp_path / "o.parquet"
    with monkeypatch.context() as patch:
        failing_reads(patch, after_chunks=2)
        assert cli("score", exported, path, "-o", out, *Q)[0] == 75
    stat = path.stat()
    changed = frame.copy()
    changed.loc[0, "text"] = changed.loc[0, "text"].replace("e", "o")  # same length, other content
    changed.to_parquet(path, index=False, compression=None)
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, _, err = cli("score", exported, path, "-o", out, "--resume", *Q)
    assert code == 0 and any("job.restarted" in line for line in err), err
    fresh = tmp_path / "fresh.parquet"
    assert cli("score", exported, path, "-o", fresh, *Q)[0] == 0
    assert pq.read_table(out).equals(pq.read_table(fresh)) and not summary_of(out)["resumed"]


def test_an_unreachable_ray_cluster_is_transient(exported, reviews, tmp_path, cli):
    import socket

    with socket.socket() as closed:  # a port nobody listens on: the cluster is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    path = tmp_path / "r.parquet"
    reviews.head(10).to_parquet(path, index=False)
    out = tmp_path / "o.parquet"
    code, _, err = cli("score", exported, path, "-o", out, "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", *Q)
    assert_failed_cleanly(code, err, 75, f"--ray-address 127.0.0.1:{port}: cannot connect", "retry", out=out)


# ---- signals: a stop leaves the job consistent and says how to resume ----

@pytest.mark.parametrize("sig,code,fmt", [(signal.SIGTERM, 143, "json"), (signal.SIGINT, 130, "human")])
def test_a_stop_by_signal_leaves_a_job_that_resumes(exported, tmp_path, sig, code, fmt):
    data = rotten_tomatoes_file(2000, tmp_path)
    out = tmp_path / "o.parquet"
    args = [sys.executable, "-m", "sentiscore.cli", "--log-format", fmt, "score", str(exported), str(data),
            "-o", str(out), "--window-rows", "16", "--quiet"]
    # A suite started in the background (`make test &`, nohup) passes SIGINT on ignored, and Python then
    # never raises KeyboardInterrupt: the job would finish and exit 0. Give the job Ctrl-C back.
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while len(list(job_dir(out).glob("part-*.parquet"))) < 5:
        assert proc.poll() is None and time.time() < deadline, "the job ended before the stop"
        time.sleep(0.01)
    proc.send_signal(sig)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    message = json_events(stderr)[0]["message"] if fmt == "json" else lines[0]
    assert "--resume" in message and ("SIGTERM" if sig == signal.SIGTERM else "Ctrl-C") in message
    if fmt == "json":
        assert json_events(stderr)[0]["exit_code"] == code
    assert not out.exists() and not list(tmp_path.glob(".o.parquet.*.tmp"))
    resumed = subprocess.run([*args, "--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = run_cli("score", exported, data, "-o", tmp_path / "whole.parquet", "--window-rows", "16", "--quiet")
    assert whole.returncode == 0, whole.stderr
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "whole.parquet"))


# ---- the folder job ----

F = [*Q, "--min-age", "0"]


def ledger_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def test_an_inbox_with_things_that_are_not_files(exported, reviews, tmp_path):
    """A folder named like a file (Spark), a dangling link, a FIFO: each fails alone, never hangs."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    reviews.head(40).to_parquet(inbox / "a.parquet", index=False)
    (inbox / "spark.parquet").mkdir()
    reviews.head(5).to_parquet(inbox / "spark.parquet" / "part-0.parquet", index=False)
    (inbox / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(inbox / "pipe.jsonl")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "sentiscore.cli", "score", str(exported), str(inbox), "-o",
                             str(out), *F], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "3 of 4 files failed" in result.stderr.splitlines()[-1], result.stderr
    files = {Path(f["input"]).name: f for f in json.loads((out / "job.summary.json").read_text())["files"]}
    assert files["a.parquet"]["outcome"] == "scored"
    assert "a folder, not a file" in files["spark.parquet"]["error"]
    assert "symbolic link to" in files["gone.csv"]["error"] and "does not exist" in files["gone.csv"]["error"]
    assert "not a regular file" in files["pipe.jsonl"]["error"]


def test_an_unreadable_file_fails_alone(exported, reviews, tmp_path, cli, monkeypatch):
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in ("a.parquet", "secret.parquet"):
        reviews.head(20).to_parquet(inbox / name, index=False)
    real = os.access
    # the tests run as root, which reads anything: the permission check is told what a user would see
    monkeypatch.setattr(readers.os, "access", lambda p, mode: real(p, mode) and Path(p).name != "secret.parquet")
    code, _, err = cli("score", exported, inbox, "-o", tmp_path / "out", *F)
    assert code == 2 and "1 of 2 files failed" in err[-1], err
    assert [e["status"] for e in ledger_lines(tmp_path / "out")] == ["scored", "failed"]
    assert "not readable (permission denied)" in ledger_lines(tmp_path / "out")[1]["error"]


def test_new_files_wait_an_empty_inbox_is_fine_and_hub_is_refused(exported, reviews, tmp_path, cli):
    inbox = tmp_path / "in"
    inbox.mkdir()
    out = tmp_path / "out"
    code, stdout, err = cli("score", exported, inbox, "-o", out, *Q)
    assert code == 0 and stdout[0].startswith("nothing to do"), (stdout, err)
    reviews.head(20).to_parquet(inbox / "new.parquet", index=False)
    code, stdout, err = cli("score", exported, inbox, "-o", out, *Q)  # default --min-age 60
    assert code == 0 and "waiting" in stdout[0] and "left for the next run" in stdout[0], (stdout, err)
    assert not (out / "new.parquet.predictions.parquet").exists()
    old = time.time() - 120
    os.utime(inbox / "new.parquet", (old, old))
    code, stdout, err = cli("score", exported, inbox, "-o", out, *Q)
    assert code == 0 and "scored" in stdout[0], (stdout, err)
    code, _, err = cli("score", exported, "hub:imdb", "-o", out, *Q)
    assert_failed_cleanly(code, err, 2, "hub:imdb: a folder job scores files")


def test_same_file_names_from_two_folders_and_an_output_inside_the_input(exported, reviews, tmp_path, cli):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        reviews.head(20).to_parquet(folder / "day.parquet", index=False)
    reviews.head(10).to_parquet(one / "other.parquet", index=False)
    out = tmp_path / "out"
    code, stdout, err = cli("score", exported, one, two, "-o", out, *F)
    assert code == 2 and "2 of 3 files failed" in err[-1], err
    entries = {(Path(e["input"]).parent.name, e["status"]) for e in ledger_lines(out)}
    assert entries == {("one", "failed"), ("two", "failed"), ("one", "scored")}
    assert all("also that of" in e["error"] for e in ledger_lines(out) if e["status"] == "failed")
    assert not (out / "day.parquet.predictions.parquet").exists()
    code, _, err = cli("score", exported, one, "-o", one / "scored", *F)
    assert_failed_cleanly(code, err, 2, "inside the input folder")
    code, _, err = cli("score", exported, one, "-o", one, *F)
    assert_failed_cleanly(code, err, 2, "that is an INPUT")


def test_ledger_is_appended_records_each_files_model_and_drops_stale_outputs(exported, reviews, tmp_path, cli):
    inbox = tmp_path / "in"
    inbox.mkdir()
    reviews.head(30).to_parquet(inbox / "a.parquet", index=False)
    reviews.iloc[30:60].to_json(inbox / "b.jsonl", orient="records", lines=True)
    out = tmp_path / "out"
    assert cli("score", exported, inbox, "-o", out, *F)[0] == 0
    first = (out / "ledger.jsonl").read_text()
    manifest = Manifest.read(exported / "onnx")
    model_hash = manifest.variant_hash(manifest.default_cpu_variant)
    assert [e["model_hash"] for e in ledger_lines(out)] == [model_hash] * 2
    for name in ("a.parquet", "b.jsonl"):
        assert summary_of(out / f"{name}.predictions.parquet")["model_hash"] == model_hash
    (inbox / "b.jsonl").write_text('{"id": "1", "text": "fine"}\nnot json\n')  # changed, and now bad
    code, _, err = cli("score", exported, inbox, "-o", out, *F)
    assert code == 2, err
    assert (out / "ledger.jsonl").read_text().startswith(first)  # appended, never rewritten
    assert ledger_lines(out)[-1]["status"] == "failed" and len(ledger_lines(out)) == 3
    assert not (out / "b.jsonl.predictions.parquet").exists()  # the old content's output is gone with it
    assert not summary_path(out / "b.jsonl.predictions.parquet").exists()
    assert (out / "a.parquet.predictions.parquet").exists()


def test_folder_job_on_a_read_only_or_full_output_folder(exported, tmp_path, tmpfs, cli):
    small = ["--quiet", "--min-age", "0", "--window-rows", "16"]  # many parts: the 96 KB disk fills
    inbox = tmp_path / "in"
    inbox.mkdir()
    rotten_tomatoes_file(2000, inbox)
    out = tmpfs / "out"
    code, _, err = cli("score", exported, inbox, "-o", out, *small)
    assert code == 75 and "No space left on device" in err[-1] and "--resume" in err[-1], err
    assert list(job_dir(out / "rt-2000.parquet.predictions.parquet").glob("part-*")), "committed windows lost"
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, _, err = cli("score", exported, inbox, "-o", out, *F)
    assert_failed_cleanly(code, err, 2, "Read-only file system", str(out))
    subprocess.run(["mount", "-o", "remount,rw,size=16m", str(tmpfs)], check=True)
    code, _, err = cli("score", exported, inbox, "-o", out, *small)
    assert code == 0, err
    assert pq.read_metadata(out / "rt-2000.parquet.predictions.parquet").num_rows == 2000
