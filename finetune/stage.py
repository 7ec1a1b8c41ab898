"""The finetune stage's entry point: a recipe in, a complete run folder out (or none at all)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiscore import atomic, log
from sentiscore.encoders import resolve_model
from sentiscore.errors import BadInput
from sentiscore.finetune.baseline import tfidf_baseline
from sentiscore.finetune.train import Trained, train
from sentiscore.metrics import Metrics
from sentiscore.plots import plot_confusion, plot_loss
from sentiscore.recipe import DistillRecipe, Recipe
from sentiscore.runs import RunFolder, RunMetrics, SourceMetrics
from sentiscore.splits import load_splits, source_of
from sentiscore.versions import package_versions


@dataclass(frozen=True)
class FinetuneResult:
    run: RunFolder
    metrics: RunMetrics

    def to_dict(self) -> dict:
        return {"run": str(self.run.path), **{k: v for k, v in self.metrics.to_dict().items() if k != "loss_history"}}

    def lines(self) -> list[str]:
        m, rows = self.metrics, self.metrics.rows
        return [f"run folder: {self.run.path}",
                f"rows: train {rows['train']}, validation {rows['validation']}, test {rows['test']}; "
                f"trained in {m.train_seconds:.0f} s on {m.device}", *m.lines()]


def default_output(recipe: Recipe | DistillRecipe) -> Path:
    """runs/NAME-TIMESTAMP: where a run goes unless --output says otherwise (finetune and distill)."""
    return Path("runs") / f"{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _by_source(recipe: Recipe, splits: dict[str, pd.DataFrame], trained: Trained,
               baseline: dict[str, Metrics]) -> dict[str, SourceMetrics]:
    """Each source's (or domain's) rows per split and both models on its test rows."""
    return {name: SourceMetrics(read=source_of(recipe, name).spec(recipe.data_dir),
                                rows={n: int((f["source"] == name).sum()) for n, f in splits.items()},
                                finetuned=trained.test_by_source[name], baseline_tfidf_logreg=baseline[name])
            for name in trained.test_by_source}


def finetune(recipe: Recipe, output: Path | None = None) -> FinetuneResult:
    """Run the recipe; write checkpoint, metrics, plots, recipe, split ids and versions to OUTPUT atomically."""
    output = Path(output) if output else default_output(recipe)
    if output.exists():
        raise BadInput(f"--output {output}: already exists (choose another folder)")
    if not recipe.label_column:
        raise BadInput("--label-column: fine-tuning needs a label column")
    if recipe.data_dir:  # recipe.toml records where the run's rows are, wherever it is read from later
        recipe = dataclasses.replace(recipe, data_dir=str(Path(recipe.data_dir).resolve()))
    model_path = resolve_model(recipe.model)  # first: a missing model package is one line before any work
    splits = load_splits(recipe)
    log.event("finetune.start", recipe=recipe.name, model=recipe.model, dataset=recipe.sources_label,
              **{f"{name}_rows": len(frame) for name, frame in splits.items()})
    trained = train(recipe, splits, model_path)
    baseline, baseline_by_source = tfidf_baseline(splits, recipe.seed, recipe.labels)
    metrics = RunMetrics(recipe=recipe.name, model=recipe.model, dataset=recipe.sources_label,
                         rows={name: len(frame) for name, frame in splits.items()},
                         train_seconds=round(trained.seconds, 1), device=trained.device,
                         finetuned=trained.metrics, baseline_tfidf_logreg=baseline,
                         loss_history=trained.loss_history, sources=_by_source(recipe, splits, trained,
                                                                               baseline_by_source))
    with atomic.atomic_dir(output) as tmp:
        run = RunFolder(tmp)
        # save_pretrained, not trainer.save_model: that also pickles training_args.bin
        trained.model.save_pretrained(run.checkpoint, safe_serialization=True)
        trained.tokenizer.save_pretrained(run.checkpoint)
        run.write_metrics(metrics)
        run.write_recipe(recipe)
        run.write_splits(splits)
        atomic.write_json(tmp / "versions.json", package_versions())
        plot_loss(metrics.loss_history, tmp / "loss.png")
        plot_confusion(metrics.finetuned["test"].confusion_matrix, recipe.labels, tmp / "confusion.png",
                       f"{recipe.name}: test split")
    return FinetuneResult(RunFolder(output), metrics)
