"""A cascade folder: a student and a teacher export and a threshold. The student scores every row;
the rows whose top probability is below the threshold go to the teacher, whose label stands.

CASCADE_DIR/
  cascade.json   the threshold (chosen on the teacher's gate rows: `sentiscore cascade`), each member's
                 run, variant and model hash, and the sha256 of every member file
  student/       the student's export (manifest, tokenizer, config, the variant files)
  teacher/       the teacher's export, likewise
  parity.json    the last `sentiscore parity CASCADE_DIR`
  metrics.json, report.md   the comparison of every model on the test split

Imports neither torch nor transformers: the scorer runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiscore.errors import BadInput
from sentiscore.manifest import MANIFEST, VARIANTS, Manifest, sha256_file
from sentiscore.onnx_model import OnnxModel
from sentiscore.runs import ExportFolder, RunFolder

CASCADE = "cascade.json"
FORMAT = "sentiscore-cascade/1"
MEMBERS = ("student", "teacher")


def top_probability(logits: np.ndarray) -> np.ndarray:
    """The softmax probability of each row's predicted class."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted.max(axis=1) / shifted.sum(axis=1)).astype(np.float64)


def cascade_hash(student_hash: str, teacher_hash: str, threshold: float) -> str:
    """What a cascade computes: both models and the threshold (a job's identity, a window's check)."""
    return hashlib.sha256(f"{student_hash}/{teacher_hash}/{threshold!r}".encode()).hexdigest()


def joined(student_variant: str, teacher_variant: str) -> str:
    """A cascade's variant as one name (ModelSpec.variant, the summary's precision): int8+openvino-int8."""
    return f"{student_variant}+{teacher_variant}"


def split_variant(variant: str) -> tuple[str, str]:
    student, sep, teacher = variant.partition("+")
    if not sep:
        raise BadInput(f"{variant}: not a cascade variant (STUDENT+TEACHER)")
    return student, teacher


@dataclass(frozen=True)
class CascadeSpec:
    """cascade.json."""

    threshold: float  # a row whose student top probability is below this goes to the teacher
    teacher_share: float  # the share of the gate's rows sent to the teacher at that threshold
    student: dict  # run (its path when the cascade was made), variant, model_hash
    teacher: dict
    files: dict[str, dict]  # "student/model.int8.onnx" -> sha256, bytes: every file of both members
    selection: dict  # how the threshold was chosen: the gate's rows, agreement, the limit
    format: str = FORMAT

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def model_hash(self) -> str:
        return cascade_hash(self.student["model_hash"], self.teacher["model_hash"], self.threshold)


@dataclass(frozen=True)
class CascadeFolder:
    """A cascade folder (see the module's docstring)."""

    path: Path

    @staticmethod
    def holds(path: Path) -> bool:
        return (Path(path) / CASCADE).is_file()

    def spec(self) -> CascadeSpec:
        path = self.path / CASCADE
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(f"{path}: unreadable ({exc})") from None
        if data.get("format") != FORMAT:
            raise BadInput(f"{path}: format {data.get('format')!r}, not {FORMAT} (made by another sentiscore version?)")
        names = {f.name for f in dataclasses.fields(CascadeSpec)}
        missing = sorted(names - set(data) - {"format"})
        if missing:
            raise BadInput(f"{path}: no {missing[0]!r}")
        return CascadeSpec(**{k: v for k, v in data.items() if k in names})

    def member(self, name: str) -> ExportFolder:
        return ExportFolder(self.path / name)

    def manifest(self) -> Manifest:
        """The teacher's manifest: the labels (the student's are the same)."""
        return self.member("teacher").manifest()

    def verify(self, spec: CascadeSpec | None = None, variant: str | None = None) -> None:
        """Member files against cascade.json (those VARIANT reads, or all): a missing or altered one is
        refused, naming it."""
        spec = spec or self.spec()
        names = list(spec.files)
        if variant is not None:
            names = [f"{member}/{file}" for member, v in zip(MEMBERS, split_variant(variant), strict=True)
                     for file in [MANIFEST, *self.member(member).manifest().variant_files(v)]]
        for name in names:
            recorded = spec.files.get(name)
            path = self.path / name
            if recorded is None:
                raise BadInput(f"{path}: not in {CASCADE}")
            if not path.is_file():
                raise BadInput(f"{path}: missing (listed in {CASCADE})")
            if sha256_file(path) != recorded["sha256"]:
                raise BadInput(f"{path}: sha256 differs from {CASCADE}: altered after the cascade was made")

    def run(self) -> RunFolder | None:
        """The teacher's run, whose splits the student shares (`score --split`), where it still exists."""
        path = Path(self.spec().teacher["run"])
        return RunFolder(path) if (path / "checkpoint" / "config.json").is_file() else None

    @property
    def parity_file(self) -> Path:
        return self.path / "parity.json"

    def variants(self, provider: str, precision: str | None, runtime: str | None) -> tuple[str, str]:
        """(provider, STUDENT+TEACHER): each member's variant chosen in its own export as for a plain
        export (default: the fastest that passed its gate; the threshold was chosen with those)."""
        from sentiscore.onnx_model import resolve_variant

        chosen = [resolve_variant(self.member(name).manifest(), provider, precision, runtime) for name in MEMBERS]
        return chosen[0][0], joined(chosen[0][1], chosen[1][1])


class CascadeModel:
    """The student and the teacher behind the scorer's calls of one model: `encode` and `pad` (the
    student's: the scorer's windows are tokenised and batched for it; the teacher tokenises the rows routed
    to it with its own tokenizer, which may differ), `warm_up`, and `route` (which rows go to the teacher)."""

    def __init__(self, student: OnnxModel, teacher: OnnxModel, threshold: float, model_hash: str) -> None:
        self.student, self.teacher, self.threshold, self.model_hash = student, teacher, threshold, model_hash
        self.labels = teacher.labels

    @classmethod
    def load(cls, folder: Path, variant: str, provider: str = "cpu", threads: int | None = None,
             verify: bool = True) -> CascadeModel:
        cascade = CascadeFolder(Path(folder))
        spec = cascade.spec()
        if verify:
            cascade.verify(spec, variant)
        student_variant, teacher_variant = split_variant(variant)
        student = OnnxModel.load(cascade.member("student"), student_variant, provider, threads, verify=False)
        teacher = OnnxModel.load(cascade.member("teacher"), teacher_variant, provider, threads, verify=False)
        model_hash = cascade_hash(student.model_hash, teacher.model_hash, spec.threshold)
        return cls(student, teacher, spec.threshold, model_hash)

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.student.encode(texts)

    def pad(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        return self.student.pad(ids)

    def padded_width(self, length: int | np.ndarray) -> int | np.ndarray:
        return self.student.padded_width(length)

    def warm_up(self, token_budget: int, max_rows: int) -> None:
        self.student.warm_up(token_budget, max_rows)
        self.teacher.warm_up(token_budget, max_rows)

    def route(self, student_logits: np.ndarray) -> np.ndarray:
        """Positions of the rows the teacher scores: the student's top probability below the threshold."""
        return np.flatnonzero(top_probability(student_logits) < self.threshold)


def runtime_of(variant: str) -> str:
    """The runtime(s) a variant (or a cascade's STUDENT+TEACHER) runs on, for the summary."""
    names = split_variant(variant) if "+" in variant else (variant,)
    return "+".join(dict.fromkeys(VARIANTS[v].runtime for v in names))
