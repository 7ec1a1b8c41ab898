"""The engine interface: engines come from one registry, and any engine that scores the pending
windows, in whatever order, gives the local engine's output."""

from contextlib import closing

import pyarrow.parquet as pq
import pytest

from sentiscore.errors import BadInput
from sentiscore.score import EngineOptions, ScoreJob, Settings, make_engine, score
from sentiscore.score import engines as registry
from tests.conftest import rotten_tomatoes_file


def test_registry_names_the_engines():
    assert set(registry.ENGINES) == {"local", "ray"}
    with pytest.raises(BadInput, match="--engine spark: unknown \\(use local, ray\\)"):
        make_engine("spark")


def test_a_new_engine_is_one_module_and_one_registry_line(exported, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.ENGINES, "reversed", "tests.score.reversed_engine:ReversedEngine")
    data = rotten_tomatoes_file(700, tmp_path)
    job = ScoreJob(exported, [str(data)], settings=Settings(window_rows=64), quiet=True)
    outputs = {}
    for name in ("local", "reversed"):
        with closing(make_engine(name, EngineOptions(threads=1))) as engine:
            summary = score(ScoreJob(**{**job.__dict__, "output": tmp_path / f"{name}.parquet"}), engine)
        assert summary.engine == name and summary.rows == 700
        outputs[name] = pq.read_table(tmp_path / f"{name}.parquet")
    assert outputs["reversed"].equals(outputs["local"])


def test_the_local_engine_loads_a_model_once_per_spec(exported, tmp_path):
    data = rotten_tomatoes_file(50, tmp_path)
    with closing(make_engine("local")) as engine:
        score(ScoreJob(exported, [str(data)], output=tmp_path / "a.parquet", quiet=True), engine)
        first = engine.model
        score(ScoreJob(exported, [str(data)], output=tmp_path / "b.parquet", quiet=True), engine)
        assert engine.model is first
        score(ScoreJob(exported, [str(data)], output=tmp_path / "c.parquet", precision="fp32", quiet=True), engine)
        assert engine.model is not first and engine.model.model_file.name == "model.onnx"


def test_the_local_engine_warms_up_once_before_its_second_window(exported, tmp_path, monkeypatch):
    """A one-window job's result does not wait for the warm-up; a longer job reaches its peak memory
    before its second window, once per spec."""
    from sentiscore.onnx_model import OnnxModel

    calls = []
    with closing(make_engine("local")) as engine:
        monkeypatch.setattr(OnnxModel, "warm_up", lambda model, budget, rows: calls.append(engine.windows))
        score(ScoreJob(exported, [str(rotten_tomatoes_file(50, tmp_path))], output=tmp_path / "one.parquet",
                       quiet=True), engine)
        assert calls == []
        four = ScoreJob(exported, [str(rotten_tomatoes_file(200, tmp_path))], output=tmp_path / "four.parquet",
                        settings=Settings(window_rows=64), quiet=True)
        score(four, engine)
        assert calls == [1]
        score(ScoreJob(**{**four.__dict__, "output": tmp_path / "again.parquet"}), engine)
        assert calls == [1]
