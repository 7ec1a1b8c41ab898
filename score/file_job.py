"""A single-output scoring job: choose the variant, take the output's lock, open the job, let the
engine score the pending windows, check each was scored by the job's model, commit it as its part,
assemble the output, write the summary.

Failures leave the job where a rerun can pick it up: bad input (2) removes the partial job (it will
not get better); a transient failure (75), a failed check (1) or a stop by signal (130/143) keeps
every committed window for `--resume`.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from sentiscore import atomic, log
from sentiscore.cascade import runtime_of
from sentiscore.cpu import int8_features
from sentiscore.errors import BadInput, CheckFailed, Interrupted, Stopped, Transient, interrupt_code, io_failure
from sentiscore.manifest import sha256_file
from sentiscore.metrics import Metrics
from sentiscore.models import ModelFolder, choose_variant, find_model
from sentiscore.readers import BUNDLED, HUB, expand_inputs, read_chunks, row_count
from sentiscore.score import job as state
from sentiscore.score.batching import Window, windows
from sentiscore.score.engines import Engine, ModelSpec
from sentiscore.score.job import ScoreJob
from sentiscore.score.lock import locked
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
    precision: str  # the variant that scored (manifest.VARIANTS; a cascade's STUDENT+TEACHER)
    provider: str
    engine: str
    resumed: bool
    this_run: dict
    settings: dict
    ids: str  # the id column read, or "row numbers" where the input has none
    labelled_rows: int  # rows with a usable true label: the metrics are over these
    invalid_labels: int  # rows whose label is neither 0/1 nor a label name: left out of the metrics
    runtime: str = "onnxruntime"
    cpu: dict | None = None  # this machine's int8 instruction sets (sentiscore.cpu), on the CPU provider
    split: str | None = None
    scored_by: dict | None = None  # a cascade: rows scored by the student and by the teacher
    classes: dict | None = None  # each class's predicted rows and share: {"negative": {"rows": 10, "share": 0.4}}
    metrics: Metrics | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not (k in ("metrics", "scored_by") and v is None)}

    def lines(self) -> list[str]:
        skipped, earlier = self.skipped, self.rows - self.this_run["rows"]
        resumed = f" ({earlier} of them by the run this one resumed)" if earlier else ""
        lines = [f"scored {self.rows} rows{resumed} in {self.seconds:.1f} s ({self.rows_per_s} rows/s) with "
                 f"{self.precision} ({self.runtime}) on {self.provider}; skipped {skipped['rows']} "
                 f"{skipped['reasons'] or ''}".rstrip()]
        if OUTSIDE_SPLIT in skipped["reasons"]:
            lines.append(f"rows: those of the model's {self.split} split only "
                         f"({skipped['reasons'][OUTSIDE_SPLIT]} other rows left out)")
        if self.ids == "row numbers":
            lines.append("ids: row numbers (the input has no 'id' column; name yours with --id-column)"
                         + ("; the `source` column tells the inputs apart" if len(self.inputs) > 1 else ""))
        if self.invalid_labels:
            lines.append(f"labels: {self.invalid_labels} rows have a label that is not one of the model's classes "
                         f"({', '.join(self.classes or {})}, or their index); metrics are over the "
                         f"{self.labelled_rows} rows with one")
        if self.cpu is not None:
            lines.append(f"cpu: {self.cpu.get('model') or self.cpu.get('machine')}; int8 instruction sets: "
                         f"{', '.join(self.cpu.get('int8_flags', [])) or 'none'}")
        if self.scored_by is not None:
            teacher, rows = self.scored_by["teacher"], max(1, self.rows)
            lines.append(f"cascade: {self.scored_by['student']} rows scored by the student, {teacher} "
                         f"({teacher / rows:.1%}) by the teacher")
        if self.classes:
            lines.append("predicted: " + ", ".join(f"{name} {c['rows']} ({c['share']:.1%})"
                                                   for name, c in self.classes.items()))
        if self.metrics is not None:
            lines.append(self.metrics.line())
        return [*lines, f"output: {self.output}"]


def default_output(inputs: list[str], split: str | None) -> Path:
    """Beside the first INPUT as given: FILE's stem, or a folder's name, + .predictions.parquet; for
    `bundled` and hub:NAME, in the working folder."""
    first = inputs[0]
    if first == BUNDLED:
        return Path(f"{BUNDLED}{'-' + split if split else ''}.predictions.parquet")
    if first.startswith(HUB):
        return Path(re.sub(r"[^\w.-]+", "_", f"{first[4:]}-{split or 'test'}").strip("_") + ".predictions.parquet")
    path = Path(first).resolve()  # `score MODEL .` writes beside the folder, not into it
    return path.with_name(path.stem + ".predictions.parquet") if path.is_file() else \
        path.with_name(path.name + ".predictions.parquet")


def check_output_place(output: Path, inputs: list[str]) -> None:
    """Refuse an output that is an input, or inside an input folder (the next run would read it back)."""
    target = output.resolve()
    for spec in inputs:
        if spec.startswith(HUB) or spec == BUNDLED:
            continue
        source = Path(spec).resolve()
        if target == source:
            raise BadInput(f"-o {output}: that is an INPUT; refusing to write over it")
        if Path(spec).is_dir() and target.is_relative_to(source):
            raise BadInput(f"-o {output}: inside the input folder {spec}, so the next run would read its own "
                           "output back; write it elsewhere")


def content_hash(spec: str) -> str | None:
    """A file input's sha256: a file rewritten with the same size and date is still a different job."""
    if spec.startswith(HUB):
        return None
    try:
        return sha256_file(Path(spec))
    except OSError as exc:
        raise io_failure(spec, exc, BadInput) from None


def stat_key(spec: str) -> list[int] | None:
    """What changes when a file is rewritten or appended to while the job reads it."""
    if spec.startswith(HUB):
        return None
    info = Path(spec).stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def split_members(folder: ModelFolder, specs: list[str], split: str | None) -> set[str] | None:
    """With --split and file inputs: the ids of that split of the model's run (the rows to score)."""
    if split is None or all(s.startswith(HUB) for s in specs):
        return None
    run = folder.run()
    if run is None:
        raise BadInput(f"--split {split}: {folder.path} is not inside a run folder, so it has no recorded splits "
                       "(--split picks a hub:NAME split, or the rows of a run's own split)")
    return set(run.split_ids(split))


def pending_windows(job: ScoreJob, specs: list[str], folder: Path, members: set[str] | None,
                    labels: tuple[str, ...], progress: tqdm) -> Iterator[tuple[str, Window]]:
    """Every window of every input whose part is not yet committed (committed ones only advance the bar)."""
    for index, spec in enumerate(specs):
        hub = spec.startswith(HUB)
        # a label column may name the model's classes, in any case, or give their indices
        chunks = read_chunks(spec, dataclasses.replace(job.columns, labels=labels), job.split if hub else None)
        for window in windows(chunks, index, job.settings.window_rows):
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


def stopped(exc: BaseException, out: Path, folder: Path) -> Stopped:
    """A stop by Ctrl-C (130) or SIGTERM (143), after the committed windows were left consistent."""
    code = interrupt_code(exc)
    parts = len(list(folder.glob("part-*.parquet")))
    return Stopped(f"{out}: stopped by {'SIGTERM' if code == 143 else 'Ctrl-C'}; {parts} windows are committed in "
                   f"{folder}: rerun the same command with --resume to finish", code)


def score_file(job: ScoreJob, engine: Engine, digests: dict[str, str] | None = None) -> ScoreSummary:
    """Score JOB's inputs into one output and its summary; returns the summary. DIGESTS: content hashes
    the caller already computed (the folder job's)."""
    started = time.perf_counter()
    export = find_model(job.model)
    manifest = export.manifest()
    provider, variant = choose_variant(export, job.provider, job.precision, job.runtime)
    specs = expand_inputs(job.inputs)
    out = job.output or default_output(job.inputs, job.split)
    check_output_place(out, job.inputs)
    with locked(state.lock_path(out), str(out), report_takeover=False):
        members = split_members(export, specs, job.split)
        before = [stat_key(spec) for spec in specs]
        contents = [(digests or {}).get(spec) or content_hash(spec) for spec in specs]
        model_hash = engine.open(ModelSpec(export.path, variant, provider, job.settings))
        identity = {"model_hash": model_hash, "variant": variant, "truncation": manifest.truncation, "inputs": specs,
                    "split": job.split, "contents": contents, "columns": asdict(job.columns),
                    "settings": asdict(job.settings)}
        try:
            folder = state.start_job(out, identity, job.mode)
        except OSError as exc:
            raise io_failure(f"{out}: cannot start the job", exc) from None
        resumed = any(folder.glob("part-*.parquet"))
        ready = time.perf_counter()
        try:
            counts = score_windows(job, engine, specs, folder, members, manifest.class_names(), model_hash, out)
            changed = [spec for spec, key in zip(specs, before, strict=True) if stat_key(spec) != key]
            if changed:
                raise Transient(f"{changed[0]}: changed while it was being scored (still being written?); retry "
                                "later: the job starts again for the new content")
            result = state.assemble(folder, out, specs, manifest.class_names())
        except BadInput:
            state.finish(folder)  # bad input will not get better by resuming: leave nothing behind
            raise
        except OSError as exc:  # disk full, read-only: what was committed stays for --resume
            hint = f"committed windows are kept in {folder}: rerun the same command with --resume"
            raise io_failure(f"{out}: cannot write", exc, retry_hint=hint) from None
        except (KeyboardInterrupt, Interrupted) as exc:
            raise stopped(exc, out, folder) from None
        finished = time.perf_counter()
        seconds = finished - started
        summary = ScoreSummary(
            output=str(out), inputs=specs, rows=result["rows"],
            skipped={"rows": sum(result["skipped"].values()), "reasons": result["skipped"]},
            # rows/s over the rows this run scored: a resumed job's committed windows cost it nothing
            seconds=round(seconds, 3), rows_per_s=round(counts["rows"] / seconds, 1) if seconds else None,
            load_s=round(ready - started, 3), scoring_s=round(finished - ready, 3),
            model=str(export.path), model_hash=model_hash, precision=variant, provider=provider,
            runtime=runtime_of(variant), cpu=int8_features() if provider == "cpu" else None,
            engine=engine.name, resumed=resumed, this_run={**counts, "workers": engine.workers},
            settings=asdict(job.settings), ids="row numbers" if result["row_number_ids"] else job.columns.id or "id",
            labelled_rows=result["labelled"], invalid_labels=result["invalid_labels"],
            split=job.split, scored_by=result.get("scored_by"), classes=result["classes"],
            metrics=result.get("metrics"))
        if result["row_number_ids"]:
            log.warning("ids.row_numbers", output=str(out), reason="an input has no id column")
        try:
            atomic.write_json(state.summary_path(out), summary.to_dict())
        except OSError as exc:
            raise io_failure(f"{state.summary_path(out)}: cannot write", exc, retry_hint="retry with --resume") \
                from None
        state.finish(folder)
    return summary


def score_windows(job: ScoreJob, engine: Engine, specs: list[str], folder: Path, members: set[str] | None,
                  labels: tuple[str, ...], model_hash: str, out: Path) -> dict:
    """Let the engine score every pending window; commit each, after checking the model that scored it."""
    counts = {"rows": 0, "tokens": 0, "padded_tokens": 0, "batches": 0}
    with progress_bar(specs, job.quiet) as progress:
        for done in engine.scored(pending_windows(job, specs, folder, members, labels, progress)):
            if done.stats["model_hash"] != model_hash:
                raise CheckFailed(
                    f"{out}: window {done.window.index} of {specs[done.window.input_index]} was scored with model "
                    f"{done.stats['model_hash'][:12]}, not the job's {model_hash[:12]} (a worker loaded another "
                    f"export: check every node's copy of the model); committed windows are kept in {folder}: "
                    "fix it, then rerun with --resume")
            state.commit_part(folder, done.window.input_index, done.window.index, done.table, done.stats)
            counts["rows"] += done.table.num_rows
            for key in ("tokens", "padded_tokens", "batches"):
                counts[key] += done.stats[key]
            progress.update(len(done.window.ids))
    return counts
