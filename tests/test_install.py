"""A real package: the wheel holds nothing generic at the top level, and a non-editable install in a
fresh virtual environment runs the default recipe, its export and scoring from an empty folder."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pandas as pd

from tests.conftest import REPO


def run(*argv, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_installed_package_works_from_an_empty_folder(trained_run, tmp_path):
    # built from a copy: setuptools builds in the source tree, and a stale build/ could leak into the wheel
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".*_cache", "results"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(source)], cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheels.glob("sentiscore-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"sentiscore", "sentiscore-0.1.0.dist-info"}
    for shipped in ("sentiscore/configs/default.toml", "sentiscore/data/amazon_review_sentences.parquet",
                    "sentiscore/finetune/stage.py", "sentiscore/export/stage.py", "sentiscore/score/stage.py"):
        assert shipped in names

    # a fresh environment: the pinned stack comes from this one (a .pth line), sentiscore from the wheel
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    (site / "stack.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]

    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    where = run(python, "-c", "import importlib.util as u, sentiscore.score; print(sentiscore.score.__file__); "
                "print([m for m in ('export', 'score', 'finetune') if u.find_spec(m)])", cwd=empty, env=env)
    assert where.stdout.splitlines() == [str(site / "sentiscore" / "score" / "__init__.py"), "[]"], where.stderr

    cli = env_dir / "bin" / "sentiscore"
    # the default recipe's model resolves to the bundled MiniLM from the installed package
    bundled = run(python, "-c", "from sentiscore.recipe import BUNDLED_MINILM, resolve_model; "
                  "print(resolve_model(BUNDLED_MINILM))", cwd=empty, env=env)
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
