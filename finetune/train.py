"""Fine-tune with the transformers Trainer and write a complete run folder (or none at all)."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from finetune.baseline import tfidf_baseline
from sentiscore import atomic
from sentiscore.data import load_splits
from sentiscore.errors import BadInput
from sentiscore.labels import ID2LABEL, LABEL2ID
from sentiscore.metrics import binary_metrics
from sentiscore.plots import plot_confusion, plot_loss
from sentiscore.recipe import Recipe, resolve_model
from sentiscore.versions import package_versions


def prepare_splits(recipe: Recipe) -> dict[str, pd.DataFrame]:
    """Load the recipe's data and apply its row caps (a seeded sample, so runs repeat)."""
    splits = load_splits(recipe.dataset, recipe.seed, recipe.text_columns or None, recipe.label_column)
    for name, cap in (("train", recipe.max_train_rows), ("validation", recipe.max_validation_rows)):
        if cap and len(splits[name]) > cap:
            splits[name] = splits[name].sample(n=cap, random_state=recipe.seed).reset_index(drop=True)
    for name, frame in splits.items():
        if frame.empty:
            raise BadInput(f"{recipe.dataset}: the {name} split is empty")
    if splits["train"]["label"].nunique() < 2:
        raise BadInput(f"{recipe.dataset}: the train split holds one label only")
    return splits


def tokenize(frame: pd.DataFrame, tokenizer, max_length: int):
    """A datasets.Dataset of input ids, labels and lengths (lengths feed length-grouped batching)."""
    import datasets

    ds = datasets.Dataset.from_dict({"text": frame["text"].tolist(), "label": frame["label"].tolist()})

    def encode(batch: dict) -> dict:
        enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return ds.map(encode, batched=True, remove_columns=["text"], desc="tokenising")


def train(recipe: Recipe, output: Path) -> dict:
    """Run the recipe; write checkpoint, metrics, plots, recipe and versions to `output` atomically."""
    import torch
    import transformers
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    if output.exists():
        raise BadInput(f"--output {output}: already exists (choose another folder)")
    splits = prepare_splits(recipe)
    transformers.set_seed(recipe.seed)
    model_path = resolve_model(recipe.model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, use_fast=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID, use_safetensors=True,
            attn_implementation="sdpa")
    except OSError as exc:
        raise BadInput(f"--model {recipe.model}: cannot load ({str(exc).splitlines()[0]})") from None
    tokenizer.model_max_length = recipe.max_length  # export and score read the max length from here
    data = {name: tokenize(frame, tokenizer, recipe.max_length) for name, frame in splits.items()}

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    steps_per_epoch = math.ceil(len(data["train"]) / recipe.batch_size)
    eval_steps = max(1, steps_per_epoch // recipe.evals_per_epoch)
    with tempfile.TemporaryDirectory(prefix="sentiscore-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=recipe.epochs, learning_rate=recipe.lr,
            per_device_train_batch_size=recipe.batch_size, per_device_eval_batch_size=64,
            optim="adamw_torch", weight_decay=recipe.weight_decay, warmup_ratio=recipe.warmup_ratio,
            eval_strategy="steps", eval_steps=eval_steps, logging_steps=max(1, eval_steps // 4),
            save_strategy="no", report_to=[], seed=recipe.seed, data_seed=recipe.seed,
            group_by_length=True, length_column_name="length", bf16=bf16, fp16=cuda and not bf16,
            dataloader_num_workers=0, use_cpu=not cuda,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
                          data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
        started = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - started
        results = {}
        for name in ("validation", "test"):
            # label_ids, not data[name]["label"]: group_by_length also reorders evaluation batches
            out = trainer.predict(data[name])
            results[name] = binary_metrics(out.label_ids, np.argmax(out.predictions, axis=-1))

        baseline = tfidf_baseline(splits, recipe.seed)
        metrics = {
            "recipe": recipe.name, "model": recipe.model, "dataset": recipe.dataset,
            "rows": {name: len(frame) for name, frame in splits.items()},
            "train_seconds": round(train_seconds, 1), "device": "cuda" if cuda else "cpu",
            "finetuned": results, "baseline_tfidf_logreg": baseline,
            "loss_history": [{k: v for k, v in h.items() if k in ("step", "epoch", "loss", "eval_loss")}
                             for h in trainer.state.log_history if "loss" in h or "eval_loss" in h],
        }
        with atomic.atomic_dir(output) as tmp:
            # save_pretrained, not trainer.save_model: that also pickles training_args.bin
            trainer.model.save_pretrained(tmp / "checkpoint", safe_serialization=True)
            tokenizer.save_pretrained(tmp / "checkpoint")
            atomic.write_json(tmp / "metrics.json", metrics)
            atomic.write_text(tmp / "recipe.toml", recipe.to_toml())
            atomic.write_json(tmp / "versions.json", package_versions())
            plot_loss(metrics["loss_history"], tmp / "loss.png")
            plot_confusion(results["test"]["confusion_matrix"], tmp / "confusion.png",
                           f"{recipe.name}: test split")
    return metrics


def summary(metrics: dict, output: Path) -> str:
    """The lines printed when a run ends."""
    rows = metrics["rows"]
    lines = [f"run folder: {output}",
             f"rows: train {rows['train']}, validation {rows['validation']}, test {rows['test']}; "
             f"trained in {metrics['train_seconds']:.0f} s on {metrics['device']}"]
    for who, key in (("fine-tuned", "finetuned"), ("TF-IDF+LR", "baseline_tfidf_logreg")):
        for split in ("validation", "test"):
            m = metrics[key][split]
            lines.append(f"{who:>10} {split:<10} accuracy {m['accuracy']:.4f}  precision {m['precision']:.4f}"
                         f"  recall {m['recall']:.4f}  F1 {m['f1']:.4f}")
    return "\n".join(lines)
