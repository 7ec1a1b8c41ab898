"""Fine-tune with the transformers Trainer: the PyTorch half of the finetune stage."""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiscore import log
from sentiscore.errors import BadInput, first_line
from sentiscore.metrics import Metrics, classification_metrics
from sentiscore.recipe import Recipe
from sentiscore.tokens import Encoder


@dataclass
class Trained:
    """A fine-tuned model with its tokenizer, what it scores on validation and test, and its training."""

    model: object
    tokenizer: object
    metrics: dict[str, Metrics]
    test_by_source: dict[str, Metrics]
    loss_history: list[dict]
    seconds: float
    device: str


def tokenize(frame: pd.DataFrame, encoder: Encoder):
    """A datasets.Dataset of input ids, labels and lengths (lengths feed length-grouped batching), cut
    to the max length as parity and the scorer will cut them."""
    import datasets

    ids = encoder.encode(frame["text"].tolist())
    return datasets.Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids],
                                       "label": frame["label"].tolist(), "length": [len(x) for x in ids]})


def _evaluate(trainer, dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) of a dataset; label_ids, not dataset["label"]: group_by_length
    also reorders evaluation batches."""
    out = trainer.predict(dataset)
    return out.label_ids, np.argmax(out.predictions, axis=-1)


def _log_callback():
    """A Trainer callback that sends its logs (loss, learning rate, evaluations) as `train.log` events."""
    from transformers import TrainerCallback

    class LogEvents(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            log.event("train.log", step=state.global_step, **{k: round(v, 6) if isinstance(v, float) else v
                                                              for k, v in (logs or {}).items()})

    return LogEvents()


def training_arguments(recipe, scratch: str, train_rows: int, **extra):
    """The Trainer's arguments every stage that trains uses (finetune's Recipe and distill's DistillRecipe
    have the fields read here): bf16/fp16 where CUDA has them, evaluation RECIPE.evals_per_epoch times an
    epoch, batches grouped by length, nothing saved (the stage writes its own run folder)."""
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    eval_steps = max(1, math.ceil(train_rows / recipe.batch_size) // recipe.evals_per_epoch)
    return TrainingArguments(
        output_dir=scratch, num_train_epochs=recipe.epochs, learning_rate=recipe.lr,
        per_device_train_batch_size=recipe.batch_size, per_device_eval_batch_size=64,
        # fused AdamW: one kernel over all the weights; on 2 CPU cores the per-tensor AdamW spent 141 ms
        # of a 414 ms MiniLM step (batch 16 x 32 tokens) updating them, the fused one 21 ms of 293-336
        optim="adamw_torch_fused", weight_decay=recipe.weight_decay, warmup_ratio=recipe.warmup_ratio,
        eval_strategy="steps", eval_steps=eval_steps, logging_steps=max(1, eval_steps // 4),
        save_strategy="no", report_to=[], seed=recipe.seed, data_seed=recipe.seed,
        group_by_length=True, length_column_name="length", bf16=bf16, fp16=cuda and not bf16,
        dataloader_num_workers=0, use_cpu=not cuda,
        disable_tqdm=log.is_json(),  # JSON logs: events, not progress bars
        **extra,
    )


def adopt_log_events(trainer) -> None:
    """With JSON logs: no progress bar, and the Trainer's logs as `train.log` events, not printed dicts."""
    from transformers import PrinterCallback

    if log.is_json():
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(_log_callback())


def load_classifier(model_path: str, **settings):
    """A sequence classifier with PyTorch's SDPA attention where its architecture has it (BERT, RoBERTa,
    DistilBERT), eager attention otherwise (MPNet): transformers refuses SDPA for those."""
    from transformers import AutoModelForSequenceClassification

    try:
        return AutoModelForSequenceClassification.from_pretrained(model_path, attn_implementation="sdpa", **settings)
    except ValueError as exc:  # "... does not support ... scaled_dot_product_attention yet"
        if "scaled_dot_product_attention" not in str(exc) and "sdpa" not in str(exc):
            raise
        return AutoModelForSequenceClassification.from_pretrained(model_path, attn_implementation="eager", **settings)


def weighted_loss(labels: np.ndarray, classes: int):
    """Cross-entropy with each class weighted by rows / (classes x its rows) of LABELS (scikit-learn's
    `balanced`): the Trainer's compute_loss_func."""
    import torch

    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weights = torch.tensor(len(labels) / (classes * np.maximum(counts, 1)), dtype=torch.float32)

    def loss(outputs, targets, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        return torch.nn.functional.cross_entropy(logits.float(), targets, weight=weights.to(logits.device))

    return loss


def train(recipe: Recipe, splits: dict[str, pd.DataFrame], model_path: str) -> Trained:
    """Fine-tune MODEL_PATH (the recipe's model, resolved) on the train split; evaluate on validation and test."""
    import torch
    import transformers
    from transformers import AutoTokenizer, DataCollatorWithPadding, Trainer

    log.adopt_library_loggers()
    transformers.set_seed(recipe.seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, use_fast=True)
        # a checkpoint with a head for another label set gets a new head (transformers warns which weights)
        model = load_classifier(model_path, num_labels=len(recipe.labels), id2label=dict(enumerate(recipe.labels)),
                                label2id={name: i for i, name in enumerate(recipe.labels)}, use_safetensors=True,
                                ignore_mismatched_sizes=True)
    except OSError as exc:
        raise BadInput(f"--model {recipe.model}: cannot load ({first_line(exc)})") from None
    log.adopt_library_loggers()
    tokenizer.model_max_length = recipe.max_length  # export and score read the max length from here
    encoder = Encoder.from_pretrained(tokenizer, recipe.max_length, recipe.truncation)
    data = {name: tokenize(frame, encoder) for name, frame in splits.items()}

    cuda = torch.cuda.is_available()
    with tempfile.TemporaryDirectory(prefix="sentiscore-trainer-") as scratch:
        args = training_arguments(recipe, scratch, len(data["train"]))
        trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
                          data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                          compute_loss_func=weighted_loss(splits["train"]["label"].to_numpy(), len(recipe.labels))
                          if recipe.class_weight == "balanced" else None)
        adopt_log_events(trainer)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        def measure(true: np.ndarray, predicted: np.ndarray) -> Metrics:
            return classification_metrics(true, predicted, recipe.labels)

        metrics = {"validation": measure(*_evaluate(trainer, data["validation"]))}
        sources = splits["test"]["source"].to_numpy()
        by_source = {name: _evaluate(trainer, data["test"].select(np.flatnonzero(sources == name)))
                     for name in dict.fromkeys(sources)}
        metrics["test"] = measure(*(np.concatenate(a) for a in zip(*by_source.values())))
        history = [{k: v for k, v in h.items() if k in ("step", "epoch", "loss", "eval_loss")}
                   for h in trainer.state.log_history if "loss" in h or "eval_loss" in h]
    return Trained(trainer.model, tokenizer, metrics, {name: measure(*lp) for name, lp in by_source.items()},
                   history, seconds, "cuda" if cuda else "cpu")
