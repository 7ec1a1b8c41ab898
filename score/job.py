"""A scoring job: what it is (ScoreJob), and its resumable state beside the output.

OUTPUT.job/ holds state.json (what the job is: model hash, inputs, batching) and a part file per
scored window, each written atomically. A killed job loses at most the windows in flight; a resumed
one skips every window whose part exists and, since batches are a pure function of the input,
rewrites nothing differently. Assembly streams the parts into OUTPUT, row group by row group, under
a temporary name, then renames it.
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

from sentiscore import atomic
from sentiscore.errors import BadInput
from sentiscore.manifest import VARIANT_FILES
from sentiscore.metrics import binary_metrics
from sentiscore.onnx_model import PROVIDERS
from sentiscore.readers import Columns
from sentiscore.score.predict import Settings

STATS_KEY = b"sentiscore.stats"
# new: refuse anything existing; resume: continue a matching partial job; overwrite: start again;
# auto: resume a matching partial job, else start again (the folder job's way)
MODES = ("new", "resume", "overwrite", "auto")


@dataclass(frozen=True)
class ScoreJob:
    """What to score, with which model, into what. An OUTPUT with no suffix (or an existing folder)
    makes a folder job: one output per input file, with a ledger and a lock."""

    model: str | Path  # an export folder (RUN/onnx) or a run folder
    inputs: list[str]  # files, folders, `bundled`, hub:NAME
    output: Path | None = None  # None: beside the first input, NAME.predictions.parquet
    mode: str = "new"  # see MODES; a folder job resumes and rescores by itself
    columns: Columns = field(default_factory=Columns)
    split: str | None = None  # hub:NAME: the split to read; files: only rows of the run's split
    precision: str | None = None  # None: the manifest's default for the provider
    provider: str = "auto"
    settings: Settings = field(default_factory=Settings)
    quiet: bool = False  # no progress bar
    fail_fast: bool = False  # folder job: stop at the first file that fails

    def __post_init__(self) -> None:
        if not self.inputs:
            raise BadInput("score: no INPUT given")
        if self.mode not in MODES:
            raise BadInput(f"mode {self.mode}: use {', '.join(MODES)}")
        if self.provider not in PROVIDERS:
            raise BadInput(f"--provider {self.provider}: use {', '.join(PROVIDERS)}")
        if self.precision is not None and self.precision not in VARIANT_FILES:
            raise BadInput(f"--precision {self.precision}: use {', '.join(VARIANT_FILES)}")
        if self.output is not None:
            object.__setattr__(self, "output", Path(self.output))
            if not self.folder_job and self.output.suffix != ".parquet":
                raise BadInput(f"-o {self.output}: the output is a .parquet file, or a folder (no suffix) "
                               "for a folder job")
            if self.folder_job and self.mode in ("resume", "overwrite"):
                raise BadInput("--resume/--overwrite: a folder job (-o OUTPUT_DIR) resumes and rescores by itself")

    @property
    def folder_job(self) -> bool:
        return self.output is not None and (self.output.is_dir() or self.output.suffix == "")


def job_dir(output: Path) -> Path:
    return output.with_name(output.name + ".job")


def summary_path(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".parquet") + ".summary.json")


def start_job(output: Path, identity: dict, mode: str) -> Path:
    """Create or reopen OUTPUT.job in MODE (see MODES); refuse to clobber, or to resume a job that
    was something else."""
    identity = json.loads(json.dumps(identity))  # compared with state.json as JSON reads it back
    folder = job_dir(output)
    state = folder / "state.json"
    if mode == "auto":
        matching = state.is_file() and json.loads(state.read_text()) == identity
        mode = "resume" if matching else "overwrite"
    if mode == "resume" and state.is_file():
        old = json.loads(state.read_text())
        if old["model_hash"] != identity["model_hash"]:
            raise BadInput(f"{folder}: the partial job was scored with model {old['model_hash'][:12]}, "
                           f"not {identity['model_hash'][:12]}; refusing to resume (use --overwrite to restart)")
        if old != identity:
            changed = sorted(k for k in identity if old.get(k) != identity[k])
            raise BadInput(f"{folder}: the partial job differs in {', '.join(changed)}; refusing to resume "
                           "(use --overwrite to restart)")
        remove_temporaries(output)
        return folder
    if mode not in ("overwrite", "resume"):
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


def assemble(folder: Path, output: Path) -> dict:
    """Stream every part, in input and row order, into OUTPUT; return rows, skips and metrics."""
    parts = sorted(folder.glob("part-*.parquet"))
    rows, skipped = 0, Counter()
    labels, truths = [], []
    with atomic.atomic_path(output) as tmp:
        writer = None
        for part in parts:
            table = pq.read_table(part)
            stats = json.loads(table.schema.metadata[STATS_KEY])
            skipped.update(stats["skipped"])
            table = table.replace_schema_metadata(None)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            if table.num_rows:
                writer.write_table(table)
            rows += table.num_rows
            labels.append(table["label"].to_numpy())
            if "label_true" in table.column_names:
                truths.append(table["label_true"].to_numpy())
        if writer is None:
            raise BadInput(f"{output}: nothing was scored (no input rows)")
        writer.close()
    result = {"rows": rows, "skipped": dict(skipped)}
    if truths and len(truths) == len(labels):
        result["metrics"] = binary_metrics(np.concatenate(truths), np.concatenate(labels))
    return result


def finish(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
