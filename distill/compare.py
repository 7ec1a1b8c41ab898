"""Every model on the same test split, the reference report's Table 4 extended with size and speed:
TF-IDF + logistic regression, an RNN and an LSTM trained from scratch, the fine-tuned teacher, the
distilled student and their cascade (the last three through the scorer, as users run them)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sentiscore import atomic
from sentiscore.cascade import CascadeFolder
from sentiscore.finetune.baseline import RECURRENT, recurrent_baseline, tfidf_timed
from sentiscore.metrics import Metrics
from sentiscore.runs import RunFolder
from sentiscore.splits import SPLITS
from sentiscore.tokens import Encoder


@dataclass(frozen=True)
class Row:
    model: str
    how: str  # what runs it: the scorer's variant, or the library a baseline predicts with
    test: Metrics
    parameters: int
    reviews_per_s: float
    teacher_share: float | None = None  # a cascade's


@dataclass(frozen=True)
class Comparison:
    rows: int
    models: list[Row]

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = ["| model | runs as | accuracy | precision | recall | F1 | parameters | reviews/s |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.models:
            how = r.how + (f", teacher on {r.teacher_share:.1%} of rows" if r.teacher_share is not None else "")
            lines.append(f"| {r.model} | {how} | {r.test.accuracy:.4f} | {r.test.precision:.4f} | "
                         f"{r.test.recall:.4f} | {r.test.f1:.4f} | {r.parameters / 1e6:.1f}M | {r.reviews_per_s:.0f} |")
        return "\n".join(lines)

    def write(self, folder: CascadeFolder, name: str) -> None:
        """metrics.json and report.md of the cascade folder (NAME: its name once complete)."""
        spec = folder.spec()
        atomic.write_json(folder.path / "metrics.json", {"threshold": spec.threshold, "selection": spec.selection,
                                                         "comparison": self.to_dict()})
        parity = json.loads(folder.parity_file.read_text()) if folder.parity_file.is_file() else None
        lines = [f"# Cascade report: {name}", "",
                 f"Student `{spec.student['run']}` ({spec.student['variant']}), teacher `{spec.teacher['run']}` "
                 f"({spec.teacher['variant']}). Threshold {spec.threshold:.4f} on the student's top probability: "
                 f"the teacher scores {spec.teacher_share:.1%} of the {spec.selection['rows']} gate rows, "
                 f"agreeing with the teacher's own labels on {spec.selection['accuracy']:.2%} of them "
                 f"(limit: {spec.selection['max_acc_drop_pp']} points below).", "",
                 f"## Every model on the test split ({self.rows} rows)", "", self.table(), "",
                 "reviews/s: the scorer's rows over its scoring time (reading, tokenising, inference, writing) for "
                 "the last three; the baselines' own prediction time. `make bench` measures speed properly.", ""]
        if parity is not None:
            verdict = "passed" if parity["passed"] else "FAILED"
            lines += [f"## Parity against the teacher's PyTorch checkpoint ({parity['split']}, {parity['rows']} rows): "
                      f"{verdict}", ""]
        atomic.write_text(folder.path / "report.md", "\n".join(lines))


def _scored(model: Path, test: Path, out: Path) -> tuple[Metrics, float, str, dict | None]:
    from sentiscore.score import ScoreJob, score

    summary = score(ScoreJob(model, [str(test)], output=out, mode="overwrite", quiet=True))
    return summary.metrics, summary.rows / max(summary.scoring_s, 1e-9), summary.precision, summary.scored_by


def compare_models(student: RunFolder, teacher: RunFolder, cascade: CascadeFolder, work: Path) -> Comparison:
    """Train the baselines on the teacher's train split; score its test split with every model."""
    splits = {name: teacher.rows(name) for name in SPLITS}
    seed = teacher.recipe().seed
    manifest = cascade.manifest()
    encoder = Encoder.from_file(cascade.member("teacher").path / "tokenizer.json", manifest.max_length,
                                manifest.truncation)
    labels = teacher.labels()
    baselines = [tfidf_timed(splits, seed, labels),
                 *(recurrent_baseline(kind, splits, encoder, seed, labels=labels) for kind in RECURRENT)]
    rows = [Row(b.name, "scikit-learn" if b.name.startswith("TF-IDF") else "PyTorch, trained from scratch", b.test,
                b.parameters, b.reviews_per_s) for b in baselines]
    test = work / "test.parquet"
    splits["test"][["id", "text", "label"]].to_parquet(test, index=False)
    sizes = student.metrics().distillation.get("parameters", {})
    for name, model, parameters in (("teacher (fine-tuned)", teacher.path, sizes.get("teacher", 0)),
                                    ("student (distilled)", student.path, sizes.get("student", 0)),
                                    ("cascade", cascade.path, sum(sizes.values()))):
        metrics, speed, variant, scored_by = _scored(model, test, work / f"{len(rows)}.predictions.parquet")
        share = scored_by["teacher"] / max(1, metrics.rows) if scored_by else None
        rows.append(Row(name, f"sentiscore score, {variant}", metrics, parameters, speed, share))
    return Comparison(len(splits["test"]), rows)

