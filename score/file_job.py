"""A single-output scoring job: choose the variant, open the job, let the engine score the pending
windows, commit each as its part, assemble the output, write the summary."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from sentiscore import atomic
from sentiscore.errors import BadInput, OutputError
from sentiscore.metrics import Metrics
from sentiscore.onnx_model import resolve_variant
from sentiscore.readers import HUB, expand_inputs, read_chunks, row_count
from sentiscore.runs import ExportFolder
from sentiscore.score import job as state
from sentiscore.score.batching import Window, windows
from sentiscore.score.engines import Engine, ModelSpec
from sentiscore.score.job import ScoreJob
from sentiscore.score.predict import OUTSIDE_SPLIT


@dataclass(frozen=True)
class ScoreSummary:
    """The summary written beside the output (OUTPUT.summary.json) and returned."""

    output: str
    inputs: list[str]
    rows: int
    skipped: dict
    seconds: float
    rows_per_s: float | None
    load_s: float  # model, hash check, warm-up, job state (Ray actors load theirs while scoring)
    scoring_s: float  # reading, tokenising, inference, committing parts, assembling the output
    model: str
    model_hash: str
    precision: str
    provider: str
    engine: str
    resumed: bool
    this_run: dict
    settings: dict
    split: str | None = None
    metrics: Metrics | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not (k == "metrics" and v is None)}

    def lines(self) -> list[str]:
        skipped = self.skipped
        lines = [f"scored {self.rows} rows in {self.seconds:.1f} s ({self.rows_per_s} rows/s) with {self.precision} "
                 f"on {self.provider}; skipped {skipped['rows']} {skipped['reasons'] or ''}".rstrip()]
        if OUTSIDE_SPLIT in skipped["reasons"]:
            lines.append(f"rows: those of the model's {self.split} split only "
                         f"({skipped['reasons'][OUTSIDE_SPLIT]} other rows left out)")
        if self.metrics is not None:
            lines.append(self.metrics.line())
        return [*lines, f"output: {self.output}"]


def default_output(inputs: list[str], split: str | None) -> Path:
    first = inputs[0]
    if first.startswith(HUB):
        return Path(re.sub(r"[^\w.-]+", "_", f"{first[4:]}-{split or 'test'}").strip("_") + ".predictions.parquet")
    path = Path(first)
    return path.with_name(path.stem + ".predictions.parquet") if path.is_file() else \
        path.with_name(path.name + ".predictions.parquet")


def fingerprint(spec: str) -> list[int] | None:
    """Size and modification time of a file input: a changed file is a different job."""
    if spec.startswith(HUB):
        return None
    stat = Path(spec).stat()
    return [stat.st_size, stat.st_mtime_ns]


def split_members(folder: ExportFolder, specs: list[str], split: str | None) -> set[str] | None:
    """With --split and file inputs: the ids of that split of the model's run (the rows to score)."""
    if split is None or all(s.startswith(HUB) for s in specs):
        return None
    run = folder.run()
    if run is None:
        raise BadInput(f"--split {split}: {folder.path} is not inside a run folder, so it has no recorded splits "
                       "(--split picks a hub:NAME split, or the rows of a run's own split)")
    return set(run.split_ids(split))


def pending_windows(job: ScoreJob, specs: list[str], folder: Path, members: set[str] | None,
                    progress: tqdm) -> Iterator[tuple[str, Window]]:
    """Every window of every input whose part is not yet committed (committed ones only advance the bar)."""
    for index, spec in enumerate(specs):
        hub = spec.startswith(HUB)
        for window in windows(read_chunks(spec, job.columns, job.split if hub else None), index,
                              job.settings.window_rows):
            if state.part_path(folder, index, window.index).exists():
                progress.update(len(window.ids))
                continue
            if members is not None and not hub:
                window.excluded = [i for i, row_id in enumerate(window.ids) if row_id not in members]
            yield spec, window


def progress_bar(inputs: list[str], quiet: bool) -> tqdm:
    """A bar over rows, with a total where the inputs tell their size up front (Parquet)."""
    known = [row_count(spec) for spec in inputs]
    total = sum(known) if all(n is not None for n in known) else None
    return tqdm(total=total, unit="rows", disable=quiet, dynamic_ncols=True)


def score_file(job: ScoreJob, engine: Engine) -> ScoreSummary:
    """Score JOB's inputs into one output and its summary; returns the summary."""
    started = time.perf_counter()
    export = ExportFolder.find(job.model)
    provider, variant = resolve_variant(export.manifest(), job.provider, job.precision)
    specs = expand_inputs(job.inputs)
    out = job.output or default_output(specs, job.split)
    members = split_members(export, specs, job.split)
    model_hash = engine.open(ModelSpec(export.path, variant, provider, job.settings))
    identity = {"model_hash": model_hash, "variant": variant, "inputs": specs, "split": job.split,
                "fingerprints": [fingerprint(spec) for spec in specs],
                "columns": asdict(job.columns), "settings": asdict(job.settings)}
    try:
        folder = state.start_job(out, identity, job.mode)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    resumed = any(folder.glob("part-*.parquet"))
    ready = time.perf_counter()
    counts = {"tokens": 0, "padded_tokens": 0, "batches": 0}
    try:
        with progress_bar(specs, job.quiet) as progress:
            for done in engine.scored(pending_windows(job, specs, folder, members, progress)):
                state.commit_part(folder, done.window.input_index, done.window.index, done.table, done.stats)
                for key in counts:
                    counts[key] += done.stats[key]
                progress.update(len(done.window.ids))
        result = state.assemble(folder, out)
    except BadInput:
        state.finish(folder)  # bad input will not get better by resuming: leave nothing behind
        raise
    except OSError as exc:  # disk full, read-only: what was committed stays for --resume
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc}); committed windows are kept in "
                          f"{folder}: make room, then rerun with --resume") from None
    finished = time.perf_counter()
    seconds = finished - started
    summary = ScoreSummary(
        output=str(out), inputs=specs, rows=result["rows"],
        skipped={"rows": sum(result["skipped"].values()), "reasons": result["skipped"]},
        seconds=round(seconds, 3), rows_per_s=round(result["rows"] / seconds, 1) if seconds else None,
        load_s=round(ready - started, 3), scoring_s=round(finished - ready, 3),
        model=str(export.path), model_hash=model_hash, precision=variant, provider=provider, engine=engine.name,
        resumed=resumed, this_run={**counts, "workers": engine.workers}, settings=asdict(job.settings),
        split=job.split, metrics=result.get("metrics"))
    try:
        atomic.write_json(state.summary_path(out), summary.to_dict())
    except OSError as exc:
        raise OutputError(f"{state.summary_path(out)}: cannot write ({exc.strerror or exc}); rerun with --resume") \
            from None
    state.finish(folder)
    return summary
