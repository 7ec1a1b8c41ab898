"""A real package: the wheel holds nothing generic at the top level; a non-editable install in a
fresh virtual environment runs the default recipe, its export and scoring from an empty folder; and a
scoring-only install (the plain requirements, no torch) scores what the full one exported."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.footprint import closure, requirements, top_level
from tests.conftest import REPO, SHARED_DATA


def run(*argv, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """sentiscore's wheel, built from a copy: setuptools builds in the source tree, and a stale build/
    could leak into the wheel."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".*_cache", "results"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(source)], cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    return next(wheels.glob("sentiscore-*.whl"))


def fresh_env(env_dir: Path, wheel: Path) -> tuple[Path, Path]:
    """A new virtual environment with sentiscore installed from WHEEL, no dependencies: (python, site-packages)."""
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    return python, site


def test_installed_package_works_from_an_empty_folder(trained_run, wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"sentiscore", "sentiscore-0.1.0.dist-info"}
    for shipped in ("sentiscore/configs/default.toml", "sentiscore/data/amazon_review_sentences.parquet",
                    "sentiscore/finetune/stage.py", "sentiscore/export/stage.py", "sentiscore/score/stage.py"):
        assert shipped in names

    # a fresh environment: the pinned stack comes from this one (a .pth line), sentiscore from the wheel
    env_dir = tmp_path / "venv"
    python, site = fresh_env(env_dir, wheel)
    (site / "stack.pth").write_text(sysconfig.get_path("purelib") + "\n")

    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    where = run(python, "-c", "import importlib.util as u, sentiscore.score; print(sentiscore.score.__file__); "
                "print([m for m in ('export', 'score', 'finetune') if u.find_spec(m)])", cwd=empty, env=env)
    assert where.stdout.splitlines() == [str(site / "sentiscore" / "score" / "__init__.py"), "[]"], where.stderr

    cli = env_dir / "bin" / "sentiscore"
    # the default recipe's model resolves to the bundled MiniLM from the installed package
    bundled = run(python, "-c", "from sentiscore.recipe import BUNDLED_MINILM; "
                  "from sentiscore.encoders import resolve_model; print(resolve_model(BUNDLED_MINILM))",
                  cwd=empty, env=env)
    assert (Path(bundled.stdout.strip()) / "config.json").is_file(), bundled.stderr[-2000:]
    # the default recipe, shortened, from the tiny run's checkpoint (a 6-layer MiniLM from scratch took a
    # minute here): one epoch keeps both classes, so the export's gate passes
    trained = run(cli, "finetune", "--recipe", "default", "--model", trained_run / "checkpoint", "--output", "run",
                  "--max-train-rows", "400", "--max-length", "32", "--epochs", "1", "--evals-per-epoch", "1",
                  cwd=empty, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (empty / "run" / "checkpoint" / "model.safetensors").is_file()
    exported = run(cli, "export", "run", "--no-int8", cwd=empty, env=env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    scored = run(cli, "score", "run", "bundled", "--split", "test", "-o", "test.parquet", "--quiet", cwd=empty,
                 env=env)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert len(pd.read_parquet(empty / "test.parquet")) == 285
    assert "rows: those of the model's test split only (2700 other rows left out)" in scored.stdout


def test_a_scoring_only_install_scores_what_the_full_one_exported(exported, wheel, tmp_path):
    """The plain requirements and what they pull in (linked from this environment, so the test needs no
    network), sentiscore from the wheel: no torch, transformers, optimum or datasets; `score` gives the
    full install's predictions, and a training command says in one line what to install."""
    python, site = fresh_env(tmp_path / "venv", wheel)
    for dist in closure(requirements()):
        for entry in top_level(dist):
            if not (site / entry.name).exists():
                (site / entry.name).symlink_to(entry)
    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1"}
    absent = run(python, "-c", "import importlib.util as u; print([m for m in ('torch', 'transformers', 'optimum', "
                 "'datasets', 'sklearn', 'pandas', 'openvino') if u.find_spec(m)])", cwd=empty, env=env)
    assert absent.stdout.strip() == "[]", absent.stderr

    reviews = empty / "reviews.csv"
    pd.read_parquet(SHARED_DATA / "rotten_tomatoes.parquet").head(300)[["id", "text", "label"]].to_csv(reviews,
                                                                                                      index=False)
    cli = tmp_path / "venv" / "bin" / "sentiscore"
    default = run(cli, "score", exported / "onnx", reviews, "-o", "default.parquet", "--quiet", cwd=empty, env=env)
    assert default.returncode == 0, default.stderr[-3000:]
    assert len(pd.read_parquet(empty / "default.parquet")) == 300
    here = run(cli, "score", exported / "onnx", reviews, "-o", "here.parquet", "--precision", "fp32", "--quiet",
               cwd=empty, env=env)
    assert here.returncode == 0, here.stderr[-3000:]
    full = run(sys.executable, "-m", "sentiscore.cli", "score", exported / "onnx", reviews, "-o", "full.parquet",
               "--precision", "fp32", "--quiet", cwd=empty, env={**os.environ, "HOME": str(home)})
    assert full.returncode == 0, full.stderr[-3000:]
    a, b = pd.read_parquet(empty / "here.parquet"), pd.read_parquet(empty / "full.parquet")
    assert a["id"].tolist() == b["id"].tolist() and a["label"].tolist() == b["label"].tolist()
    assert np.allclose(a["prob_positive"], b["prob_positive"], atol=1e-6)

    training = run(cli, "finetune", "--output", "run", cwd=empty, env=env)
    assert training.returncode == 2, training.stderr[-2000:]
    lines = [line for line in training.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'sentiscore[train]'" in lines[0], training.stderr[-2000:]
