"""A scoring job: what it is (ScoreJob), and its resumable state beside the output.

OUTPUT.job/ holds state.json (what the job is: model hash, inputs and their content hashes,
batching) and a part file per scored window, each written atomically. A killed job loses at most the
windows in flight; a resumed one skips every window whose part exists and, since batches are a pure
function of the input, rewrites nothing differently. Assembly streams the parts into OUTPUT, row
group by row group, under a temporary name, then renames it. `.OUTPUT.lock` keeps two jobs off one
output.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sentiscore import arrow, atomic, log
from sentiscore.errors import BadInput
from sentiscore.metrics import classification_metrics
from sentiscore.onnx_model import PROVIDERS, check_choice
from sentiscore.readers import Columns
from sentiscore.score.predict import Settings, output_schema

STATS_KEY = b"sentiscore.stats"
# new: refuse anything existing; resume: continue a matching partial job (or start one where there is
# none and no finished output); overwrite: start again; auto: resume a matching partial job, else start
# again (the folder job's way)
MODES = ("new", "resume", "overwrite", "auto")


@dataclass(frozen=True)
class ScoreJob:
    """What to score, with which model, into what. An OUTPUT with no suffix (or an existing folder)
    makes a folder job: one output per input file, with a ledger and a lock."""

    model: str | Path  # an export folder (RUN/onnx) or a run folder
    inputs: list[str]  # files, folders, `bundled`, hub:NAME
    output: Path | None = None  # None: beside the first input, NAME.predictions.parquet
    mode: str = "new"  # see MODES; a folder job resumes and rescores changed files by itself (--resume is a
    # no-op there); --overwrite there rescores every file, whatever the ledger says
    columns: Columns = field(default_factory=Columns)
    split: str | None = None  # hub:NAME: the split to read; files: only rows of the run's split
    precision: str | None = None  # a precision or a variant; None: the fastest that passed the gate at export
    runtime: str | None = None  # onnxruntime or openvino; None: whichever the fastest variant uses
    provider: str = "auto"
    settings: Settings = field(default_factory=Settings)
    quiet: bool = False  # no progress bar
    fail_fast: bool = False  # folder job: stop at the first file that fails
    min_age: float = 60.0  # folder job: skip files modified in the last MIN_AGE seconds (still being copied?)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise BadInput("score: no INPUT given")
        if self.mode not in MODES:
            raise BadInput(f"mode {self.mode}: use {', '.join(MODES)}")
        if self.provider not in PROVIDERS:
            raise BadInput(f"--provider {self.provider}: use {', '.join(PROVIDERS)}")
        check_choice(self.precision, self.runtime)
        if not self.min_age >= 0:
            raise BadInput(f"--min-age {self.min_age}: must be >= 0 seconds")
        if self.output is not None:
            object.__setattr__(self, "output", Path(self.output))
            if not self.folder_job and self.output.suffix != ".parquet":
                raise BadInput(f"-o {self.output}: the output is a .parquet file, or a folder (no suffix) "
                               "for a folder job")

    @property
    def folder_job(self) -> bool:
        return self.output is not None and (self.output.is_dir() or self.output.suffix == "")


def job_dir(output: Path) -> Path:
    return output.with_name(output.name + ".job")


def summary_path(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".parquet") + ".summary.json")


def lock_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.lock")


def _read_state(state: Path) -> dict:
    try:
        return json.loads(state.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{state}: unreadable ({exc}); use --overwrite to start the job again") from None


def start_job(output: Path, identity: dict, mode: str) -> Path:
    """Create or reopen OUTPUT.job in MODE (see MODES); refuse to clobber, or to resume a job that
    was something else. A partial job of inputs whose content has changed since is worthless: resume
    starts that one again (and says so)."""
    identity = json.loads(json.dumps(identity))  # compared with state.json as JSON reads it back
    folder = job_dir(output)
    state = folder / "state.json"
    if mode == "auto":
        mode = "resume" if state.is_file() and _read_state(state) == identity else "overwrite"
    if mode == "resume" and state.is_file():
        old = _read_state(state)
        if old == identity:
            remove_temporaries(output)
            return folder
        changed = sorted(k for k in identity if old.get(k) != identity[k])
        if changed != ["contents"]:
            if old.get("model_hash") != identity["model_hash"]:
                raise BadInput(f"{folder}: the partial job was scored with model {str(old.get('model_hash'))[:12]}, "
                               f"not {identity['model_hash'][:12]}; refusing to resume (use --overwrite to restart)")
            raise BadInput(f"{folder}: the partial job differs in {', '.join(changed)}; refusing to resume "
                           "(use --overwrite to restart)")
        log.warning("job.restarted", job=str(folder), reason="an input's content changed since the partial job")
    elif mode == "resume" and output.exists():
        raise BadInput(f"{output}: already finished, no partial job to resume (use --overwrite to score it again)")
    elif mode == "new":
        if folder.exists():
            raise BadInput(f"{output}: a partial job exists in {folder} (use --resume or --overwrite)")
        if output.exists():
            raise BadInput(f"{output}: already exists (use --overwrite to replace it)")
    remove_temporaries(output)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    atomic.write_json(state, identity)
    return folder


def remove_temporaries(output: Path) -> None:
    """Temporary files a killed job left behind (never a committed part or a finished output)."""
    for stale in [*output.parent.glob(f".{output.name}.*.tmp"), *job_dir(output).glob(".*.tmp")]:
        stale.unlink(missing_ok=True)


def part_path(folder: Path, input_index: int, window: int) -> Path:
    return folder / f"part-{input_index:05d}-{window:09d}.parquet"


def commit_part(folder: Path, input_index: int, window: int, table: pa.Table, stats: dict) -> None:
    """Write one window's predictions atomically, its counts in the file's metadata."""
    table = table.replace_schema_metadata({STATS_KEY: json.dumps(stats).encode()})
    with atomic.atomic_path(part_path(folder, input_index, window)) as tmp:
        pq.write_table(table, tmp)


def part_stats(part: Path) -> dict:
    return json.loads(pq.read_schema(part).metadata[STATS_KEY])


def assemble(folder: Path, output: Path, sources: list[str], labels: tuple[str, ...]) -> dict:
    """Stream every part, in input and row order, into OUTPUT; return rows, skips, each class's
    predicted rows and share, label counts and metrics (over the rows with a usable label). The output
    has `label_true` where any row has a label, and `source` (the input each row came from) where
    several inputs feed it."""
    parts = sorted(folder.glob("part-*.parquet"))
    stats = [part_stats(p) for p in parts]  # metadata only: decides the output's columns up front
    skipped = Counter()
    for s in stats:
        skipped.update(s["skipped"])
    labelled = sum(s["labelled"] for s in stats)
    rows = 0
    predicted, truths = [], []
    counts = np.zeros(len(labels), np.int64)
    with atomic.atomic_path(output) as tmp:
        writer = None
        for part in parts:
            table = arrow.read_parquet(part).replace_schema_metadata(None)
            counts += np.bincount(np.array(table["label"].to_pylist(), np.int64), minlength=len(labels))
            if labelled:
                # to_pylist: pyarrow's to_numpy imports pandas (0.3 s); a part is one window of rows
                truth = np.array([-1 if t is None else t for t in table["label_true"].to_pylist()], np.int8)
                known = truth >= 0
                predicted.append(np.array(table["label"].to_pylist(), np.int8)[known])
                truths.append(truth[known])
            else:
                table = table.drop_columns(["label_true"])
            if len(sources) > 1:
                source = sources[int(part.name.split("-")[1])]
                table = table.append_column("source", arrow.strings([source] * table.num_rows))
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            if table.num_rows:
                writer.write_table(table)
            rows += table.num_rows
        if writer is None:  # an input with no rows: an output with none (a nightly file may be empty)
            writer = pq.ParquetWriter(tmp, output_schema(labels))
        writer.close()
    result = {"rows": rows, "skipped": dict(skipped), "labelled": labelled,
              "invalid_labels": sum(s["invalid_labels"] for s in stats),
              "row_number_ids": any(s["row_number_ids"] for s in stats),
              "classes": {name: {"rows": int(n), "share": round(float(n) / rows, 4) if rows else 0.0}
                          for name, n in zip(labels, counts, strict=True)}}
    if any("teacher_rows" in s for s in stats):  # a cascade: how many rows each model scored
        teacher = sum(s.get("teacher_rows", 0) for s in stats)
        result["scored_by"] = {"student": rows - teacher, "teacher": teacher}
    if labelled:
        result["metrics"] = classification_metrics(np.concatenate(truths), np.concatenate(predicted), labels)
    return result


def finish(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
