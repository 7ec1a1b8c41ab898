"""Run folders and export folders: objects that read and write their own files.

RUN_DIR/                 written by finetune, complete or absent
  checkpoint/            the model (safetensors), config and tokenizer
  recipe.toml            the recipe used
  splits.parquet         which ids fell in which split (parity and `score --split` read exactly those)
  metrics.json           RunMetrics
  loss.png, confusion.png, versions.json, report.md
  onnx/                  the export folder (ExportFolder): manifest.json, model files, parity.json
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from sentiscore import arrow, atomic
from sentiscore.errors import BadInput
from sentiscore.labels import NO_LABEL, from_config
from sentiscore.manifest import MANIFEST, VARIANTS, Manifest
from sentiscore.metrics import Metrics
from sentiscore.recipe import Recipe, load_recipe

if TYPE_CHECKING:  # pandas for a run's rows only: a scoring job reads an export folder without it (0.3 s)
    import pandas as pd

# every run's splits, recorded by id in splits.parquet
SPLITS = ("train", "validation", "test")
# the gate's rows: validation, then unlabelled training texts up to this many (one row of 2,000 is 0.05 points)
AGREEMENT_ROWS = 2000

MODELS = ("finetuned", "baseline_tfidf_logreg")


@dataclass(frozen=True)
class SourceMetrics:
    """One source of the recipe: what was read, its rows per split, both models on its test rows."""

    read: str
    rows: dict[str, int]
    finetuned: Metrics
    baseline_tfidf_logreg: Metrics

    @classmethod
    def from_dict(cls, data: dict) -> SourceMetrics:
        return cls(**{**data, **{k: Metrics(**data[k]) for k in MODELS}})


@dataclass(frozen=True)
class RunMetrics:
    """metrics.json: the fine-tuned model and the TF-IDF baseline on validation and test, each source's
    test rows apart, and the training."""

    recipe: str
    model: str
    dataset: str
    rows: dict[str, int]
    train_seconds: float
    device: str
    finetuned: dict[str, Metrics]
    baseline_tfidf_logreg: dict[str, Metrics]
    loss_history: list[dict]
    sources: dict[str, SourceMetrics] = field(default_factory=dict)  # runs before several sources: none
    distillation: dict = field(default_factory=dict)  # a student run (sentiscore distill): its teacher and how

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunMetrics:
        models = {k: {split: Metrics(**m) for split, m in data[k].items()} for k in MODELS}
        sources = {name: SourceMetrics.from_dict(m) for name, m in data.get("sources", {}).items()}
        return cls(**{**data, **models, "sources": sources})

    def lines(self) -> list[str]:
        lines = []
        for who, by_split in (("fine-tuned", self.finetuned), ("TF-IDF+LR", self.baseline_tfidf_logreg)):
            lines += [f"{who:>10} {split:<10} {m.line()}" for split, m in by_split.items()]
        if len(self.sources) > 1:
            lines += [f"fine-tuned test {name}: {m.finetuned.line()} ({m.rows['test']} rows)"
                      for name, m in self.sources.items()]
        return lines


@dataclass(frozen=True)
class RunFolder:
    """A run folder: a fine-tuned checkpoint and everything known about how it was made."""

    path: Path

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        run = cls(Path(path))
        if not (run.checkpoint / "config.json").is_file():
            raise BadInput(f"{path}: not a run folder (no checkpoint/config.json)")
        return run

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint"

    @property
    def onnx(self) -> Path:
        return self.path / "onnx"

    def recipe(self) -> Recipe:
        return load_recipe(str(self.path / "recipe.toml"))

    def write_recipe(self, recipe: Recipe) -> None:
        atomic.write_text(self.path / "recipe.toml", recipe.to_toml())

    def metrics(self) -> RunMetrics:
        return RunMetrics.from_dict(json.loads((self.path / "metrics.json").read_text()))

    def write_metrics(self, metrics: RunMetrics) -> None:
        atomic.write_json(self.path / "metrics.json", metrics.to_dict())

    def write_splits(self, splits: dict[str, pd.DataFrame]) -> None:
        """splits.parquet: every id with the split it fell in, in each split's order."""
        table = pa.table({"id": pa.array([i for f in splits.values() for i in f["id"]], pa.string()),
                          "split": pa.array([s for s, f in splits.items() for _ in range(len(f))]).dictionary_encode()})
        with atomic.atomic_path(self.path / "splits.parquet") as tmp:
            pq.write_table(table, tmp)

    def split_ids(self, split: str) -> list[str]:
        """The ids of SPLIT (train, validation, test, or all), as finetune recorded them."""
        if split not in (*SPLITS, "all"):
            raise BadInput(f"--split {split}: unknown (use {', '.join(SPLITS)} or all)")
        path = self.path / "splits.parquet"
        if not path.is_file():
            raise BadInput(f"{path}: missing (a run made by an older sentiscore: fine-tune it again)")
        table = arrow.read_parquet(path)
        ids = table["id"].to_pylist()
        return ids if split == "all" else [i for i, s in zip(ids, table["split"].to_pylist()) if s == split]

    def rows(self, split: str, max_rows: int | None = None) -> pd.DataFrame:
        """The run's own rows of SPLIT, re-read from its dataset: exactly the ids recorded, in their order."""
        import pandas as pd

        from sentiscore.splits import source_rows

        recipe = self.recipe()
        ids = self.split_ids(split)[:max_rows]
        table = source_rows(recipe).set_index("id")
        missing = pd.Index(ids).difference(table.index)
        if len(missing):
            raise BadInput(f"{recipe.sources_label}: id {missing[0]} of the {split} split is gone (the data changed "
                           f"since {self.path} was trained)")
        return table.loc[ids].reset_index()

    def agreement_rows(self, max_validation_rows: int | None = None) -> pd.DataFrame:
        """The rows the gate and the cascade's threshold judge on: the validation split (labelled), then a
        seeded sample of the run's own training texts, unlabelled (label NO_LABEL: agreement with PyTorch
        needs no labels), up to AGREEMENT_ROWS in all, so a verdict does not hang on a row or two."""
        import pandas as pd

        validation = self.rows("validation", max_validation_rows)
        extra = max(0, AGREEMENT_ROWS - len(validation))
        train = self.rows("train")
        train = train.sample(n=min(extra, len(train)), random_state=0) if extra else train.head(0)
        return pd.concat([validation, train.assign(label=NO_LABEL)], ignore_index=True)

    def labels(self) -> tuple[str, ...]:
        """The class names, in index order, from the checkpoint's config.json (id2label)."""
        return from_config(self.checkpoint)

    def export_folder(self) -> ExportFolder:
        return ExportFolder.find(self.path)


@dataclass(frozen=True)
class ExportFolder:
    """An export folder: ONNX variants, tokenizer, manifest.json, parity.json."""

    path: Path

    @classmethod
    def find(cls, model: str | Path) -> ExportFolder:
        """MODEL may be an export folder (RUN/onnx) or a run folder holding one."""
        path = Path(model)
        if (path / "onnx" / MANIFEST).is_file():
            return cls(path / "onnx")
        if (path / MANIFEST).is_file():
            return cls(path)
        if not path.exists():
            raise BadInput(f"{path}: no such model folder")
        raise BadInput(f"{path}: not an export folder (no {MANIFEST}; run `sentiscore export RUN_DIR`)")

    def manifest(self) -> Manifest:
        return Manifest.read(self.path)

    def write_manifest(self, manifest: Manifest) -> None:
        atomic.write_json(self.path / MANIFEST, manifest.to_dict())

    def variant_file(self, variant: str) -> Path:
        return self.path / VARIANTS[variant].model_file

    @property
    def parity_file(self) -> Path:
        return self.path / "parity.json"

    def run(self) -> RunFolder | None:
        """The run folder this export belongs to, if it sits in one."""
        parent = self.path.parent
        return RunFolder(parent) if (parent / "checkpoint" / "config.json").is_file() else None
