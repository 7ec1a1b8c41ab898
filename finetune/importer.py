"""`sentiscore import`: a fine-tuned Hugging Face sequence classifier from elsewhere, as a run folder that
export, parity and score take like any other.

The checkpoint is loaded as it is (safetensors only, never remote code), its classes from its
`id2label`. `--data` gives rows for the gate and parity, split as finetune splits them; where those
rows have labels they must be the checkpoint's classes (indices or names), and the imported model's
metrics on them go to metrics.json. Without labels (or without `--data`: the bundled review sentences'
texts) the gate checks agreement with PyTorch only, and report.md says accuracy was not checked.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from sentiscore import atomic, log
from sentiscore.errors import BadInput, first_line
from sentiscore.finetune.stage import default_output
from sentiscore.labels import NO_LABEL, from_id2label
from sentiscore.metrics import classification_metrics
from sentiscore.readers import BUNDLED, read_chunks
from sentiscore.recipe import Recipe
from sentiscore.runs import RunFolder, RunMetrics
from sentiscore.splits import load_splits, recipe_columns
from sentiscore.versions import package_versions

PICKLED = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


@dataclass(frozen=True)
class ImportResult:
    run: RunFolder
    metrics: RunMetrics

    def to_dict(self) -> dict:
        return {"run": str(self.run.path), **{k: v for k, v in self.metrics.to_dict().items() if k != "loss_history"}}

    def lines(self) -> list[str]:
        m = self.metrics
        rows = ", ".join(f"{split} {n}" for split, n in m.rows.items())
        scored = [f"imported {split:<10} {x.line()}" for split, x in m.finetuned.items()] or \
            ["no labelled rows: the gate will check agreement with PyTorch only (give labelled rows with --data)"]
        return [f"run folder: {self.run.path}", f"model {m.model}; rows: {rows}", *scored,
                f"next: sentiscore export {self.run.path}"]


def read_checkpoint(folder: Path) -> tuple[dict, tuple[str, ...]]:
    """CHECKPOINT's config and class names, after checking it is a sequence classifier in safetensors."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BadInput(f"{folder}: not a Hugging Face model folder (no config.json)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"{config_path}: cannot read ({first_line(exc)})") from None
    architectures = config.get("architectures") or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise BadInput(f"{folder}: not a sequence classifier (architectures: {', '.join(architectures) or 'none'}; "
                       "import takes a *ForSequenceClassification checkpoint)")
    if not list(folder.glob("*.safetensors")):
        pickled = [name for name in PICKLED if (folder / name).is_file()]
        raise BadInput(f"{folder}: no .safetensors weights" + (f" (only {pickled[0]}: sentiscore loads safetensors "
                       "only; re-save it with save_pretrained(..., safe_serialization=True))" if pickled else ""))
    return config, from_id2label(config.get("id2label") or {}, f"{config_path} id2label")


def _labelled(recipe: Recipe) -> bool:
    """Whether every source of the recipe has the label column (read from its first rows)."""
    def has_labels(source) -> bool:
        chunk = next(iter(read_chunks(source.spec(recipe.data_dir), recipe_columns(recipe, source))), None)
        return chunk is not None and chunk.labels is not None

    return all(has_labels(source) for source in recipe.dataset)


def import_checkpoint(checkpoint: str | Path, data: list[str] | None = None, output: Path | None = None,
                      **settings) -> ImportResult:
    """Write a run folder at OUTPUT for CHECKPOINT, with DATA's rows split as finetune splits them (default:
    the bundled sentences' texts, unlabelled). SETTINGS: recipe settings (max_length, text_columns,
    label_column, data_dir, seed) for how the texts are read and cut."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiscore.export.gate import torch_logits
    from sentiscore.tokens import Encoder

    folder = Path(checkpoint)
    _, labels = read_checkpoint(folder)
    recipe = Recipe(name="import", model=str(folder.resolve()), labels=list(labels), dataset=data or [BUNDLED],
                    **{k: v for k, v in settings.items() if v is not None})
    if not data or not _labelled(recipe):  # texts only: agreement with PyTorch needs no labels
        recipe = dataclasses.replace(recipe, label_column="")
    output = Path(output) if output else default_output(recipe)
    if output.exists():
        raise BadInput(f"--output {output}: already exists (choose another folder)")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{folder}: cannot load ({first_line(exc)})") from None
    log.adopt_library_loggers()
    if not tokenizer.is_fast:
        raise BadInput(f"{folder}: no fast tokenizer (tokenizer.json): export and score need one")
    splits = load_splits(recipe)
    tokenizer.model_max_length = recipe.max_length  # export and score read the max length from here
    metrics = {}
    with atomic.atomic_dir(output) as tmp:
        run = RunFolder(tmp)
        model.save_pretrained(run.checkpoint, safe_serialization=True)
        tokenizer.save_pretrained(run.checkpoint)
        encoder = Encoder.from_file(run.checkpoint / "tokenizer.json", recipe.max_length, recipe.truncation)
        for split in ("validation", "test"):
            rows = splits[split]
            if (rows["label"] != NO_LABEL).all():
                predicted = torch_logits(run.checkpoint, encoder, rows["text"].tolist()).argmax(-1)
                metrics[split] = classification_metrics(rows["label"].to_numpy(), predicted, labels)
        result = RunMetrics(recipe="import", model=str(folder.resolve()), dataset=recipe.sources_label,
                            rows={name: len(frame) for name, frame in splits.items()}, train_seconds=0.0,
                            device="cpu", finetuned=metrics, baseline_tfidf_logreg={}, loss_history=[])
        run.write_metrics(result)
        run.write_recipe(recipe)
        run.write_splits(splits)
        atomic.write_json(tmp / "versions.json", package_versions())
    return ImportResult(RunFolder(output), result)
