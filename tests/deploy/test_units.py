"""deploy/: the systemd units pass `systemd-analyze verify`, and the cron line runs as written."""

import json
import os
import shutil
import subprocess
import time

import pandas as pd

from tests.conftest import REPO, SHARED_DATA

DEPLOY = REPO / "deploy"


def localise(text: str, model, inbox, out) -> str:
    """The deploy files with this checkout's paths in place of /opt and /srv."""
    return (text.replace("/opt/sentiscore", str(REPO)).replace("/srv/models/current/onnx", str(model))
            .replace("/srv/reviews/incoming", str(inbox)).replace("/srv/reviews/scored", str(out))
            .replace("/var/log/sentiscore.jsonl", str(out.parent / "log.jsonl")))


def test_systemd_units_verify(exported, tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    service = localise((DEPLOY / "sentiscore-score.service").read_text(), exported / "onnx", tmp_path, tmp_path)
    service = service.replace("User=sentiscore", "User=root").replace("Group=sentiscore", "Group=root")
    (units / "sentiscore-score.service").write_text(service)
    shutil.copy(DEPLOY / "sentiscore-score.timer", units)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", "sentiscore-score.service",
                             "sentiscore-score.timer"], cwd=units, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_cron_line_runs_as_written(exported, tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "scored"
    inbox.mkdir()
    pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet").head(100).to_parquet(inbox / "x.parquet", index=False)
    landed = time.time() - 3600  # landed an hour ago: older than --min-age, so tonight's run takes it
    os.utime(inbox / "x.parquet", (landed, landed))
    line = next(x for x in (DEPLOY / "crontab").read_text().splitlines() if x and not x.startswith("#"))
    command = localise(line.split(None, 5)[5], exported / "onnx", inbox, out)
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    events = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "job.end" and events[-1]["scored"] == 1
    assert len(pd.read_parquet(out / "x.parquet.predictions.parquet")) == 100


def test_the_service_keeps_openvinos_compile_cache_where_it_may_write():
    """ProtectHome=true hides ~/.cache: the cache must be the unit's CacheDirectory, which systemd makes
    writable for User even under ProtectSystem=strict."""
    lines = (DEPLOY / "sentiscore-score.service").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    environment = dict(line.split("=", 1)[1].split("=", 1) for line in lines if line.startswith("Environment="))
    assert settings["ProtectHome"] == "true" and settings["ProtectSystem"] == "strict"
    assert environment["SENTISCORE_CACHE_DIR"] == "/var/cache/" + settings["CacheDirectory"]
