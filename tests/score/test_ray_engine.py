"""The Ray engine on a real two-node cluster on loopback: identical predictions to the local engine."""

import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, rotten_tomatoes_file, scored, wait_for_parts

RAY = str(Path(sys.executable).parent / "ray")
SMALL = ["--window-rows", "64", "--token-budget", "2048", "--quiet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """`ray start --head` plus a second `ray start --address`, one CPU each; stopped pass or fail.

    Ray 2.60 turns token authentication on by itself for `ray start`, and every process (the job
    subprocesses included) must then present the cluster's token. The token is made here and passed
    in the environment: nothing is read from or left in the home folder (~/.ray/auth_token)."""
    address = f"127.0.0.1:{free_port()}"
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    os.environ.update(auth)
    try:
        subprocess.run([RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", address.split(":")[1],
                        "--include-dashboard=false", *common], check=True, capture_output=True, timeout=120)
        subprocess.run([RAY, "start", "--address", address, "--node-ip-address", "127.0.0.1", *common],
                       check=True, capture_output=True, timeout=120)
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
        for name in auth:
            os.environ.pop(name, None)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> Path:
    return rotten_tomatoes_file(3000, tmp_path_factory.mktemp("ray"))


@pytest.fixture(scope="module")
def local_predictions(exported, reviews) -> pd.DataFrame:
    return scored(exported, reviews, reviews.with_name("local.parquet"), *SMALL)


def start_ray_job(exported, reviews, out, address, *extra):
    args = [sys.executable, "-m", "sentiscore.cli", "score", str(exported), str(reviews), "-o", str(out),
            "--engine", "ray", "--ray-address", address, "--workers", "2", *SMALL, *extra]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_node_cluster_gives_identical_predictions(cluster, exported, reviews, local_predictions):
    out = reviews.with_name("ray.parquet")
    proc = start_ray_job(exported, reviews, out, cluster)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), local_predictions)


def test_a_killed_worker_loses_and_duplicates_nothing(cluster, exported, reviews, local_predictions):
    out = reviews.with_name("ray-killed-worker.parquet")
    proc = start_ray_job(exported, reviews, out, cluster)
    wait_for_parts(out, proc, 5, poll_s=0.05)
    actors = subprocess.run(["pgrep", "-f", "ray::Scorer"], capture_output=True, text=True).stdout.split()
    assert actors, "no Scorer actor process found"
    subprocess.run(["kill", "-9", actors[0]], check=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    result = pq.read_table(out).to_pandas()
    assert result["id"].is_unique
    pd.testing.assert_frame_equal(result, local_predictions)


def test_a_killed_driver_resumes(cluster, exported, reviews, local_predictions):
    out = reviews.with_name("ray-killed-driver.parquet")
    proc = start_ray_job(exported, reviews, out, cluster)
    wait_for_parts(out, proc, 5, poll_s=0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    proc = start_ray_job(exported, reviews, out, cluster, "--resume")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), local_predictions)


def test_an_actor_restarted_on_another_export_stops_the_job(cluster, exported, reviews, tmp_path):
    """A redeploy under a running job: the files change (a consistent other export: the fp32 model in
    the int8 file's place, the manifest updated), an actor dies and Ray restarts it on the new files.
    Its windows carry another model's hash: the job stops (exit 1) before committing one of them."""
    import json
    import shutil

    from sentiscore.manifest import sha256_file
    from sentiscore.score.job import part_stats

    run = tmp_path / "run"
    shutil.copytree(exported / "onnx", run / "onnx")
    out = tmp_path / "redeployed.parquet"
    # the dynamic int8 pinned, the file replaced below: --precision int8 picks the fastest int8 variant,
    # OpenVINO's where export timed it first, and the job then never read the replaced file (it was flaky so).
    # One-row windows: 3,000 round trips, so the job outlasts the redeploy below on any machine.
    proc = start_ray_job(run / "onnx", reviews, out, cluster, "--precision", "int8-dynamic", "--window-rows", "1")
    wait_for_parts(out, proc, 3, poll_s=0.05)
    manifest = json.loads((run / "onnx" / "manifest.json").read_text())
    driver_hash = manifest["files"]["model.int8.onnx"]["sha256"]
    shutil.copyfile(run / "onnx" / "model.onnx", run / "onnx" / "model.int8.onnx")
    manifest["files"]["model.int8.onnx"]["sha256"] = sha256_file(run / "onnx" / "model.int8.onnx")
    (run / "onnx" / "manifest.json").write_text(json.dumps(manifest))
    for actor in subprocess.run(["pgrep", "-f", "ray::Scorer"], capture_output=True, text=True).stdout.split():
        subprocess.run(["kill", "-9", actor])
    _, err = proc.communicate(timeout=600)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 1, err[-3000:]
    assert "was scored with model" in lines[-1] and f"not the job's {driver_hash[:12]}" in lines[-1]
    parts = list(out.with_name(out.name + ".job").glob("part-*.parquet"))
    assert parts and {part_stats(p)["model_hash"] for p in parts} == {driver_hash}
    assert not out.exists()


def test_sigterm_stops_a_ray_job_consistently(cluster, exported, reviews, local_predictions):
    """ray.init installs a SIGTERM handler of its own (exit 15): sentiscore puts its stop back (143)."""
    out = reviews.with_name("ray-sigterm.parquet")
    proc = start_ray_job(exported, reviews, out, cluster)
    wait_for_parts(out, proc, 5, poll_s=0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143 and "--resume" in err.splitlines()[-1], err[-3000:]
    proc = start_ray_job(exported, reviews, out, cluster, "--resume")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), local_predictions)


def test_a_cascade_on_the_cluster_equals_the_local_engine(cluster, split_cascade, reviews):
    """Each actor loads both models of the cascade; the teacher re-scores the same rows as locally."""
    local = scored(split_cascade, reviews, reviews.with_name("cascade-local.parquet"), *SMALL)
    assert (local["scored_by"] == "teacher").any() and (local["scored_by"] == "student").any()
    out = reviews.with_name("cascade-ray.parquet")
    proc = start_ray_job(split_cascade, reviews, out, cluster)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), local)
