"""A student initialised from its teacher, DistilBERT's way: the teacher's embeddings, every other
layer (or N layers spread over the teacher's), its pooler and head, its tokenizer. Or a student
initialised from another pretrained encoder (a base-size teacher's small student), with that encoder's
own tokenizer, cut the same way where fewer layers are asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiscore import log
from sentiscore.errors import BadInput

# BERT: bert.encoder.layer.N.*, DistilBERT: distilbert.transformer.layer.N.*
_LAYER_KEY = re.compile(r"^(.*\.layer\.)(\d+)(\..*)$")


def spread_layers(teacher_layers: int, layers: int) -> list[int]:
    """Which teacher layers the student keeps: LAYERS of them spread evenly from the first to the last
    (12 -> 6 gives DistilBERT's own choice, 0 2 4 7 9 11; 6 -> 3 gives 0 2 5; N -> 1 gives 0)."""
    return [int(i) for i in np.linspace(0, teacher_layers - 1, layers).round()] if layers > 1 else [0]


def kept_layers(teacher_layers: int, layers: int, keep: str) -> list[int]:
    """spread: spread_layers; bottom: the first LAYERS (dropping the top layers loses least after
    fine-tuning: Sajjad et al. 2020, "On the Effect of Dropping Layers of Pre-trained Transformer Models")."""
    return spread_layers(teacher_layers, layers) if keep == "spread" else list(range(layers))


@dataclass
class Student:
    model: object
    tokenizer: object
    kept: list[int]  # the teacher's layers, in order, that became the student's
    teacher_layers: int
    teacher_parameters: int


def student_from_teacher(checkpoint: Path, layers: int | None, keep: str = "spread",
                         student_model: str | None = None) -> Student:
    """The student of the teacher's checkpoint: its config with fewer layers, and its weights, the
    layers not kept left out; or, with STUDENT_MODEL, that encoder (and its tokenizer) cut likewise."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiscore.encoders import resolve_model
    from sentiscore.finetune.train import load_classifier

    teacher = AutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=True)
    log.adopt_library_loggers()
    if student_model is None:
        source, tokenizer_from = teacher, checkpoint
        total = teacher.config.num_hidden_layers
        layers = layers or max(1, total // 2)
        if not 1 <= layers < total:
            raise BadInput(f"--layers {layers}: must be in [1, {total - 1}] (the teacher has {total} layers)")
    else:
        tokenizer_from = resolve_model(student_model)
        try:
            source = load_classifier(tokenizer_from, num_labels=teacher.config.num_labels,
                                     id2label=teacher.config.id2label, label2id=teacher.config.label2id,
                                     use_safetensors=True)
        except OSError as exc:
            raise BadInput(f"--student-model {student_model}: cannot load ({str(exc).splitlines()[0]})") from None
        total = source.config.num_hidden_layers
        layers = layers or total
        if not 1 <= layers <= total:
            raise BadInput(f"--layers {layers}: must be in [1, {total}] ({student_model} has {total} layers)")
    kept = kept_layers(total, layers, keep)
    student = source if layers == total else cut(source, kept)
    return Student(student, AutoTokenizer.from_pretrained(tokenizer_from, use_fast=True), kept,
                   teacher.config.num_hidden_layers, parameters(teacher))


def cut(model, kept: list[int]):
    """MODEL with only the layers KEPT (in their order), its other weights as they are."""
    from transformers import AutoModelForSequenceClassification

    config = model.config.__class__.from_dict({**model.config.to_dict(), "num_hidden_layers": len(kept)})
    student = AutoModelForSequenceClassification.from_config(config)
    weights = {}
    for key, value in model.state_dict().items():
        match = _LAYER_KEY.match(key)
        if match is None:
            weights[key] = value
        elif int(match[2]) in kept:
            weights[f"{match[1]}{kept.index(int(match[2]))}{match[3]}"] = value
    student.load_state_dict(weights, strict=True)
    return student


def parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))
