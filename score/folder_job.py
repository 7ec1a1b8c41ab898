"""The folder job: each input file of a folder scored into its own output in OUTPUT_DIR, unattended.

OUTPUT_DIR/ledger.json remembers every input scored (path, size, sha256, model hash, rows, time,
status), so a nightly run scores only what is new or changed, or everything again under a new model.
OUTPUT_DIR/.lock (an flock, released by the kernel when its process dies) keeps two jobs apart: a
second job exits at once; a lock left by a dead process is simply taken over.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sentiscore import atomic, log
from sentiscore.errors import BadInput, OutputError
from sentiscore.manifest import sha256_file
from sentiscore.onnx_model import resolve_variant
from sentiscore.readers import HUB, expand_inputs
from sentiscore.runs import ExportFolder
from sentiscore.score.engines import Engine
from sentiscore.score.file_job import score_file
from sentiscore.score.job import ScoreJob

LEDGER = "ledger.json"
LOCK = ".lock"


@dataclass(frozen=True)
class FolderSummary:
    """OUTPUT_DIR/job.summary.json: each file's outcome and the counts."""

    output_dir: str
    seconds: float
    scored: int
    skipped: int
    failed: int
    not_attempted: int
    files: list[dict]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def lines(self) -> list[str]:
        lines = [f"{f['outcome']:>8}  {f['input']}" + (f"  ({f['rows']} rows)" if "rows" in f else "")
                 + (f"  {f['error']}" if "error" in f else "") for f in self.files]
        return [*lines, f"{self.scored} scored, {self.skipped} skipped, {self.failed} failed, "
                        f"{self.not_attempted} not attempted; ledger in {self.output_dir}"]


@contextmanager
def locked(output_dir: Path):
    """Hold OUTPUT_DIR/.lock for the job; exit 2 at once if a live job holds it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            raise BadInput(f"{output_dir}: another job holds {LOCK} ({holder}); not starting a second one") from None
        previous = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if previous:
            log.event("lock.taken_over", lock=str(path), previous=previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%FT%T%z')}".encode(), 0)
        yield
        os.ftruncate(fd, 0)  # a clean exit leaves an empty lock file: nothing to take over
    finally:
        os.close(fd)


def read_ledger(output_dir: Path) -> dict:
    path = output_dir / LEDGER
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: invalid JSON ({exc}); move it away to rescore everything") from None


def output_name(input_path: Path) -> str:
    """reviews.csv -> reviews.csv.predictions.parquet: distinct for a.csv and a.parquet."""
    return input_path.name + ".predictions.parquet"


def score_folder(job: ScoreJob, engine: Engine) -> FolderSummary:
    """Score every input file of JOB not yet in the ledger under this model into JOB.output."""
    output_dir = job.output
    export = ExportFolder.find(job.model)
    manifest = export.manifest()
    _, variant = resolve_variant(manifest, job.provider, job.precision)
    model_hash = manifest.variant_hash(variant)
    files = [Path(p) for p in expand_inputs(job.inputs) if not p.startswith(HUB)]
    started = time.perf_counter()
    outcomes = []
    with locked(output_dir):
        ledger = read_ledger(output_dir)
        log.event("job.start", inputs=len(files), output_dir=str(output_dir), model=str(export.path))
        for path in files:
            key = str(path.resolve())
            digest = sha256_file(path)
            out = output_dir / output_name(path)
            done = ledger.get(key, {})
            if (done.get("status") == "scored" and done.get("sha256") == digest
                    and done.get("model_hash") == model_hash and out.is_file()):
                outcomes.append({"input": str(path), "outcome": "skipped", "reason": "already scored by this model"})
                log.event("file.skipped", input=str(path), reason="already scored by this model")
                continue
            entry = {"input": str(path), "bytes": path.stat().st_size, "sha256": digest, "model_hash": model_hash,
                     "output": str(out)}
            try:
                summary = score_file(dataclasses.replace(job, inputs=[str(path)], output=out, mode="auto"), engine)
            except (BadInput, OutputError) as exc:
                entry.update(status="failed", error=str(exc), finished=time.strftime("%FT%T%z"))
                outcomes.append({"input": str(path), "outcome": "failed", "error": str(exc)})
                log.event("file.failed", input=str(path), error=str(exc))
                ledger[key] = entry
                atomic.write_json(output_dir / LEDGER, ledger)
                if job.fail_fast:
                    break
                continue
            entry.update(status="scored", rows=summary.rows, skipped_rows=summary.skipped["rows"],
                         seconds=summary.seconds, finished=time.strftime("%FT%T%z"))
            ledger[key] = entry
            atomic.write_json(output_dir / LEDGER, ledger)
            outcomes.append({"input": str(path), "outcome": "scored", "rows": summary.rows,
                             "seconds": summary.seconds})
            log.event("file.scored", input=str(path), rows=summary.rows, seconds=summary.seconds, output=str(out))
        result = FolderSummary(
            output_dir=str(output_dir), seconds=round(time.perf_counter() - started, 3),
            scored=sum(o["outcome"] == "scored" for o in outcomes),
            skipped=sum(o["outcome"] == "skipped" for o in outcomes),
            failed=sum(o["outcome"] == "failed" for o in outcomes),
            not_attempted=len(files) - len(outcomes), files=outcomes)
        atomic.write_json(output_dir / "job.summary.json", result.to_dict())
    return result
