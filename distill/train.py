"""Knowledge distillation with the transformers Trainer: KL divergence to the teacher's
temperature-softened logits, plus cross-entropy on gold labels where a row has one."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiscore.export.gate import model_logits
from sentiscore.finetune.train import adopt_log_events, training_arguments
from sentiscore.labels import NO_LABEL
from sentiscore.recipe import DistillRecipe
from sentiscore.tokens import Encoder


@dataclass
class Distilled:
    """The trained student, its logits on each evaluation split, its training history."""

    model: object
    logits: dict[str, np.ndarray]
    history: list[dict]
    seconds: float
    device: str


def kd_loss(student_logits, teacher_logits, labels, temperature: float, alpha: float):
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, label) over labelled rows.
    T^2 keeps the soft term's gradients on the scale of the hard one's (Hinton et al. 2015)."""
    import torch.nn.functional as F

    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.softmax(teacher_logits / t, dim=-1),
                  reduction="batchmean") * t * t
    labelled = labels != NO_LABEL
    ce = F.cross_entropy(student_logits[labelled], labels[labelled]) if labelled.any() else kl * 0
    return alpha * kl + (1 - alpha) * ce


def dataset(frame: pd.DataFrame, encoder: Encoder):
    """Token ids, gold label (NO_LABEL where none), teacher logits and length of each row."""
    import datasets

    ids = encoder.encode(frame["text"].tolist())
    return datasets.Dataset.from_dict({"input_ids": ids, "labels": frame["label"].astype(int).tolist(),
                                       "teacher_logits": np.stack(frame["teacher_logits"].to_numpy()).tolist(),
                                       "length": [len(x) for x in ids]})


def collate(pad_id: int):
    """Pad a batch to its longest row; labels and teacher logits as tensors."""
    import torch

    def pad(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, :len(r["input_ids"])] = 1
        return {"input_ids": input_ids, "attention_mask": mask,
                "labels": torch.tensor([r["labels"] for r in rows]),
                "teacher_logits": torch.tensor([r["teacher_logits"] for r in rows], dtype=torch.float32)}

    return pad


def agreement_metrics(prediction) -> dict:
    """Validation accuracy and agreement with the teacher's labels, logged at every evaluation."""
    labels, teacher = prediction.label_ids
    predicted = prediction.predictions.argmax(-1)
    return {"accuracy": float((predicted == labels).mean()),
            "agreement": float((predicted == teacher.argmax(-1)).mean())}


def distil(student, tokenizer, encoder: Encoder, recipe: DistillRecipe, train: pd.DataFrame,
           evaluate: dict[str, pd.DataFrame]) -> Distilled:
    """Train STUDENT on TRAIN (text, label or NO_LABEL, teacher_logits); validation is evaluated along
    the way; return its logits on each frame of EVALUATE (in their row order)."""
    import torch
    import transformers
    from transformers import Trainer

    class DistillTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            labels, teacher = inputs.pop("labels"), inputs.pop("teacher_logits")
            outputs = model(**inputs)
            loss = kd_loss(outputs.logits, teacher, labels, recipe.temperature, recipe.alpha)
            return (loss, outputs) if return_outputs else loss

    transformers.set_seed(recipe.seed)
    data = {"train": dataset(train, encoder), "validation": dataset(evaluate["validation"], encoder)}
    with tempfile.TemporaryDirectory(prefix="sentiscore-distill-") as scratch:
        args = training_arguments(recipe, scratch, len(data["train"]), remove_unused_columns=False,
                                  label_names=["labels", "teacher_logits"])
        trainer = DistillTrainer(model=student, args=args, train_dataset=data["train"],
                                 eval_dataset=data["validation"], data_collator=collate(tokenizer.pad_token_id or 0),
                                 compute_metrics=agreement_metrics)
        adopt_log_events(trainer)
        before = trainer.evaluate()  # the initialised student's agreement: where the curve starts
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        logits = {name: model_logits(trainer.model, encoder, frame["text"].tolist())
                  for name, frame in evaluate.items()}
        history = [{"step": 0, "epoch": 0.0, **{k: before[k] for k in ("eval_loss", "eval_agreement")}}]
        history += [{k: v for k, v in h.items() if k in ("step", "epoch", "loss", "eval_loss", "eval_agreement")}
                    for h in trainer.state.log_history if "loss" in h or "eval_loss" in h]
    return Distilled(trainer.model, logits, history, seconds, "cuda" if torch.cuda.is_available() else "cpu")
