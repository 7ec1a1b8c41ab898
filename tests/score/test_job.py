"""Job start modes and the job's own checks, without scoring anything."""

import json

import pyarrow as pa
import pytest

from sentiscore.errors import BadInput
from sentiscore.score.job import ScoreJob, commit_part, job_dir, part_path, start_job

IDENTITY = {"model_hash": "a" * 64, "variant": "int8", "inputs": ["x.parquet"], "settings": {"window_rows": 64}}


def committed(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("part-*.parquet"))


def add_part(folder, window: int) -> None:
    commit_part(folder, 0, window, pa.table({"id": ["1"], "label": pa.array([1], pa.int8())}), {"skipped": {}})


def test_new_refuses_anything_existing(tmp_path):
    out = tmp_path / "out.parquet"
    folder = start_job(out, IDENTITY, "new")
    assert json.loads((folder / "state.json").read_text()) == IDENTITY
    with pytest.raises(BadInput, match="a partial job exists .* --resume or --overwrite"):
        start_job(out, IDENTITY, "new")
    job_dir(out).rename(tmp_path / "moved")
    out.write_bytes(b"done")
    with pytest.raises(BadInput, match="already exists"):
        start_job(out, IDENTITY, "new")


def test_resume_keeps_parts_of_the_same_job_only(tmp_path):
    out = tmp_path / "out.parquet"
    folder = start_job(out, IDENTITY, "new")
    add_part(folder, 0)
    (folder / ".part-00000-000000001.parquet.xyz.tmp").write_bytes(b"half")  # a killed commit
    assert start_job(out, IDENTITY, "resume") == folder
    assert committed(folder) == [part_path(folder, 0, 0).name] and not list(folder.glob(".*.tmp"))
    with pytest.raises(BadInput, match="scored with model aaaaaaaaaaaa, not bbbbbbbbbbbb"):
        start_job(out, {**IDENTITY, "model_hash": "b" * 64}, "resume")
    with pytest.raises(BadInput, match="differs in settings"):
        start_job(out, {**IDENTITY, "settings": {"window_rows": 32}}, "resume")


def test_an_identity_is_compared_as_json_reads_it_back(tmp_path):
    out = tmp_path / "out.parquet"
    identity = {**IDENTITY, "columns": {"text": ("title", "content")}}  # a tuple comes back as a list
    folder = start_job(out, identity, "new")
    add_part(folder, 0)
    assert start_job(out, identity, "resume") == folder and committed(folder)
    start_job(out, identity, "auto")
    assert committed(folder)


def test_overwrite_and_auto(tmp_path):
    out = tmp_path / "out.parquet"
    folder = start_job(out, IDENTITY, "new")
    add_part(folder, 0)
    start_job(out, IDENTITY, "auto")
    assert committed(folder)  # same job: resumed
    start_job(out, {**IDENTITY, "inputs": ["y.parquet"]}, "auto")
    assert not committed(folder)  # another job: started again
    add_part(folder, 0)
    start_job(out, {**IDENTITY, "inputs": ["y.parquet"]}, "overwrite")
    assert not committed(folder)


def test_score_job_checks_itself(tmp_path):
    assert ScoreJob("m", ["a.csv"], output=tmp_path / "scored").folder_job
    assert ScoreJob("m", ["a.csv"], output=tmp_path).folder_job
    assert not ScoreJob("m", ["a.csv"], output="a.parquet").folder_job
    assert not ScoreJob("m", ["a.csv"]).folder_job
    for kwargs, message in (({"inputs": []}, "no INPUT"), ({"mode": "again"}, "mode again"),
                            ({"provider": "tpu"}, "--provider tpu"), ({"precision": "int4"}, "--precision int4"),
                            ({"output": "out.json"}, "-o out.json")):
        with pytest.raises(BadInput, match=message):
            ScoreJob(**{"model": "m", "inputs": ["a.csv"], **kwargs})
