"""The distill stage's entry point: a teacher run in, a student run folder out (or none at all).

The student is the teacher cut to fewer layers (student.py) and trained to match the teacher's
temperature-softened logits (train.py) on the teacher's training split plus unlabelled in-domain
texts. The teacher's logits come once, before training, from its exported fp32 ONNX model through
the scorer, and are kept in the run folder (teacher_logits.parquet).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiscore import atomic, log
from sentiscore.errors import BadInput, CheckFailed
from sentiscore.export.report import write_report
from sentiscore.finetune.stage import FinetuneResult, default_output
from sentiscore.labels import probabilities
from sentiscore.metrics import classification_metrics
from sentiscore.plots import plot_confusion, plot_loss
from sentiscore.readers import BUNDLED, HUB, labelled_parts, text_table
from sentiscore.recipe import DistillRecipe, Recipe
from sentiscore.runs import RunFolder, RunMetrics, SourceMetrics
from sentiscore.splits import SPLITS, recipe_columns
from sentiscore.tokens import Encoder
from sentiscore.versions import package_versions

from .augment import augmented, sentences
from .student import Student, parameters, student_from_teacher
from .train import NO_LABEL, Distilled, distil

TEACHER_LOGITS = "teacher_logits.parquet"
# float32 probabilities saturate at 1 - 6e-8: a margin past +-16 is unknowable from them, and at T = 2
# the softened target there differs from 1 by 3e-4 at most
PROB_CLIP = 1e-7


@dataclass(frozen=True)
class DistillResult(FinetuneResult):
    """A run folder like finetune's, summed up with the distillation's own lines."""

    def lines(self) -> list[str]:
        d, m = self.metrics.distillation, self.metrics
        return [f"run folder: {self.run.path}",
                f"student: {d['layers']} of the teacher's {d['teacher_layers']} layers "
                f"({' '.join(map(str, d['kept']))}), "
                f"{d['parameters']['student']:,} parameters against {d['parameters']['teacher']:,}",
                f"rows: {d['rows']['labelled']} labelled, {d['rows']['augmented']} augmented, "
                f"{d['rows']['unlabeled']} unlabelled, {d['rows']['sentences']} sentences of them; "
                f"trained in {m.train_seconds:.0f} s on {m.device}",
                *[f"agreement with the teacher on {split}: {a:.2%}" for split, a in d["agreement"].items()],
                *m.lines()]


def locate(spec: str, data_dir: str | None, flag: str) -> str:
    """A relative file or folder is looked up in DATA_DIR first (the recipe's local copies), then here;
    one found in neither is bad input naming FLAG and where it was looked for."""
    if spec.startswith(HUB) or spec == BUNDLED:
        return spec
    if data_dir and not Path(spec).is_absolute() and (Path(data_dir) / spec).exists():
        return str(Path(data_dir) / spec)
    if not Path(spec).exists():
        where = f"in --data-dir {data_dir} or " if data_dir else ""
        raise BadInput(f"{flag} {spec}: not found {where}in {Path.cwd()}; give --data-dir with the folder "
                       "that holds it (make distill DATA_DIR=DIR), or its full path")
    return spec


def training_rows(recipe: DistillRecipe, teacher: RunFolder, held_out: set[str], mask: str) -> pd.DataFrame:
    """The labelled rows (the teacher's training split, or --data), the variants of their texts, the
    unlabelled rows and the sentences cut from them (all three label NO_LABEL), with a `role`; texts of
    the teacher's validation and test rows are left out of all."""
    columns = recipe_columns(teacher.recipe())
    if recipe.data:
        labelled = pd.concat([part for spec in recipe.data
                              for part in labelled_parts(locate(spec, recipe.data_dir, "--data"), columns,
                                                         id_prefix=f"{Path(spec).stem}:").values()], ignore_index=True)
    else:
        labelled = teacher.rows("train")
    frames = [labelled[["id", "text", "label"]].assign(role="train")]
    if recipe.augment:
        texts = augmented(labelled["text"].tolist(), recipe.augment, mask, recipe.seed)
        frames.append(pd.DataFrame({"id": [f"augmented:{i}" for i in range(len(texts))], "text": texts,
                                    "label": NO_LABEL, "role": "augmented"}))
    unlabeled_texts = []
    for spec in recipe.unlabeled:
        rows = text_table(locate(spec, recipe.data_dir, "--unlabeled"),
                          dataclasses.replace(columns, label="", group=None))
        unlabeled_texts += rows["text"].tolist()
        if recipe.max_unlabeled_rows and len(rows) > recipe.max_unlabeled_rows:
            rows = rows.sample(n=recipe.max_unlabeled_rows, random_state=recipe.seed)
        frames.append(rows.assign(id=f"{Path(spec).stem}:" + rows["id"].astype(str), label=NO_LABEL,
                                  role="unlabeled"))
    if recipe.unlabeled_sentences:
        texts = sentences(unlabeled_texts, recipe.unlabeled_sentences, recipe.seed)
        frames.append(pd.DataFrame({"id": [f"sentence:{i}" for i in range(len(texts))], "text": texts,
                                    "label": NO_LABEL, "role": "sentences"}))
    rows = pd.concat(frames, ignore_index=True)
    return rows[~rows["text"].isin(held_out)].reset_index(drop=True)


def teacher_logits(teacher: RunFolder, texts: list[str], work: Path) -> tuple[np.ndarray, float]:
    """The teacher's logits (centred log-probabilities: softmax gives its probabilities back) for TEXTS,
    from its fp32 ONNX export through the scorer; and the scorer's rows/s."""
    import pyarrow.parquet as pq

    from sentiscore.score import ScoreJob, score

    inputs, out = work / "teacher-inputs.parquet", work / "teacher.predictions.parquet"
    ids = [str(i) for i in range(len(texts))]
    pd.DataFrame({"id": ids, "text": texts}).to_parquet(inputs, index=False)
    summary = score(ScoreJob(teacher.path, [str(inputs)], output=out, precision="fp32", mode="overwrite",
                             quiet=log.is_json()))
    predicted = pq.read_table(out).to_pandas().set_index("id")
    if len(predicted) != len(ids):
        raise CheckFailed(f"{teacher.path}: the teacher scored {len(predicted)} of {len(ids)} texts "
                          f"({summary.skipped['reasons']})")
    log_p = np.log(np.clip(probabilities(predicted.loc[ids], teacher.labels()), PROB_CLIP, 1))
    return (log_p - log_p.mean(axis=1, keepdims=True)).astype(np.float32), summary.rows_per_s or 0.0


def distill(teacher: RunFolder | str | Path, recipe: DistillRecipe, output: Path | None = None) -> DistillResult:
    """Distil TEACHER (an exported run) into a student run folder at OUTPUT, written atomically."""
    teacher = teacher if isinstance(teacher, RunFolder) else RunFolder.open(teacher)
    teacher.export_folder()  # its ONNX export gives the teacher's logits: refuse early if there is none
    output = Path(output) if output else default_output(recipe)
    if output.exists():
        raise BadInput(f"--output {output}: already exists (choose another folder)")
    if recipe.data_dir:
        recipe = dataclasses.replace(recipe, data_dir=str(Path(recipe.data_dir).resolve()))
    splits = {name: teacher.rows(name) for name in SPLITS}
    held_out = set(splits["validation"]["text"]) | set(splits["test"]["text"])
    student = student_from_teacher(teacher.checkpoint, recipe.layers, recipe.keep, recipe.student_model)
    rows = training_rows(recipe, teacher, held_out, student.tokenizer.mask_token or "[MASK]")
    evaluate = {name: splits[name].assign(role=name) for name in ("validation", "test")}
    every = pd.concat([rows, *evaluate.values()], ignore_index=True)
    log.event("distill.start", teacher=str(teacher.path), labelled=int((rows["role"] == "train").sum()),
              augmented=int((rows["role"] == "augmented").sum()),
              unlabeled=int((rows["role"] == "unlabeled").sum()),
              sentences=int((rows["role"] == "sentences").sum()), validation=len(evaluate["validation"]),
              test=len(evaluate["test"]))
    with tempfile.TemporaryDirectory(prefix="sentiscore-distill-") as work:
        logits, teacher_rows_s = teacher_logits(teacher, every["text"].tolist(), Path(work))
    every["teacher_logits"] = list(logits)
    parts = {role: frame for role, frame in every.groupby("role", sort=False)}
    manifest = teacher.export_folder().manifest()
    tokenizer = student.tokenizer
    tokenizer.model_max_length = manifest.max_length
    encoder = Encoder.from_pretrained(tokenizer, manifest.max_length, manifest.truncation)
    trained = distil(student.model, tokenizer, encoder, recipe,
                     every[every["role"].isin(["train", "augmented", "unlabeled", "sentences"])],
                     {name: parts[name] for name in ("validation", "test")})
    metrics = _metrics(recipe, teacher, parts, trained, student, teacher_rows_s)
    with atomic.atomic_dir(output) as tmp:
        run = RunFolder(tmp)
        trained.model.save_pretrained(run.checkpoint, safe_serialization=True)
        tokenizer.save_pretrained(run.checkpoint)
        run.write_recipe(student_recipe(teacher, recipe))
        atomic.write_text(tmp / "distill.toml", recipe.to_toml())
        run.write_metrics(metrics)
        run.write_splits(splits)  # the teacher's splits: export calibrates and gates on them, parity compares on them
        with atomic.atomic_path(tmp / TEACHER_LOGITS) as path:
            pd.DataFrame({"role": every["role"], "id": every["id"].astype(str),
                          "label": every["label"].where(every["label"] != NO_LABEL).astype("Int8"),
                          **{f"teacher_logit_{name}": logits[:, i] for i, name in enumerate(teacher.labels())}}
                         ).to_parquet(path, index=False)
        atomic.write_json(tmp / "versions.json", package_versions())
        plot_loss(metrics.loss_history, tmp / "loss.png", "distillation loss (KL + cross-entropy)")
        plot_confusion(metrics.finetuned["test"].confusion_matrix, teacher.labels(), tmp / "confusion.png",
                       f"{recipe.name}: test split")
        write_report(run)
    return DistillResult(RunFolder(output), metrics)


def student_recipe(teacher: RunFolder, recipe: DistillRecipe) -> Recipe:
    """recipe.toml of the student: the teacher's data (so its splits re-read as they are), this
    training's settings, the model it started from (the teacher's checkpoint, or --student-model)."""
    return dataclasses.replace(teacher.recipe(), name=recipe.name,
                               model=recipe.student_model or str(teacher.checkpoint.resolve()),
                               **{k: getattr(recipe, k) for k in ("epochs", "lr", "batch_size", "seed", "weight_decay",
                                                                  "warmup_ratio", "evals_per_epoch")})


def _metrics(recipe: DistillRecipe, teacher: RunFolder, parts: dict[str, pd.DataFrame], trained: Distilled,
             student: Student, teacher_rows_s: float) -> RunMetrics:
    """metrics.json of the student: its metrics where finetune puts a model's, the teacher's beside them."""
    ours = teacher.metrics()
    predicted = {name: trained.logits[name].argmax(-1) for name in ("validation", "test")}
    teacher_labels = {name: np.stack(parts[name]["teacher_logits"].to_numpy()).argmax(-1) for name in predicted}
    labels = teacher.labels()
    finetuned = {name: classification_metrics(parts[name]["label"].to_numpy(), p, labels)
                 for name, p in predicted.items()}
    test = parts["test"]
    sources = {}
    if len(ours.sources) > 1:
        for name, m in ours.sources.items():
            mask = (test["source"] == name).to_numpy()
            sources[name] = SourceMetrics(m.read, m.rows, classification_metrics(test["label"].to_numpy()[mask],
                                                                                 predicted["test"][mask], labels),
                                          m.baseline_tfidf_logreg)
    kept = student.kept
    distillation = {
        "teacher": str(teacher.path.resolve()), "teacher_layers": student.teacher_layers,
        "layers": len(kept), "kept": kept, "temperature": recipe.temperature, "alpha": recipe.alpha,
        "parameters": {"teacher": student.teacher_parameters, "student": parameters(trained.model)},
        "rows": {"labelled": int(len(parts["train"])), "augmented": int(len(parts.get("augmented", []))),
                 "unlabeled": int(len(parts.get("unlabeled", []))),
                 "sentences": int(len(parts.get("sentences", [])))},
        "unlabeled_sources": [locate(s, recipe.data_dir, "--unlabeled") for s in recipe.unlabeled],
        "teacher_scored_rows_per_s": teacher_rows_s,
        "teacher_onnx_fp32": {name: classification_metrics(parts[name]["label"].to_numpy(), t, labels).to_dict()
                              for name, t in teacher_labels.items()},
        "agreement": {name: round(float((predicted[name] == teacher_labels[name]).mean()), 4) for name in predicted},
    }
    return RunMetrics(recipe=recipe.name, model=f"{len(kept)}-layer student of {teacher.path.name}",
                      dataset=ours.dataset, rows={"train": int(len(parts["train"])),
                                                  "validation": int(len(parts["validation"])),
                                                  "test": int(len(parts["test"])),
                                                  "unlabeled": int(len(parts.get("unlabeled", [])))},
                      train_seconds=round(trained.seconds, 1), device=trained.device, finetuned=finetuned,
                      baseline_tfidf_logreg=ours.baseline_tfidf_logreg, loss_history=trained.history,
                      sources=sources, distillation=distillation)

