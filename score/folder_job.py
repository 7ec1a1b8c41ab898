"""The folder job: each input file of a folder scored into its own output in OUTPUT_DIR, unattended.

OUTPUT_DIR/ledger.json remembers every input scored (path, size, sha256, model hash, rows, time,
status), so a nightly run scores only what is new or changed, or everything again under a new model.
OUTPUT_DIR/.lock (an flock, released by the kernel when its process dies) keeps two jobs apart: a
second job exits at once; a lock left by a dead process is simply taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from score.readers import expand_inputs
from score.run import ScoreOptions, choose, score
from sentiscore import atomic, log
from sentiscore.errors import BadInput, OutputError
from sentiscore.manifest import read_manifest, sha256_file
from sentiscore.onnx_model import export_folder, variant_hash

LEDGER = "ledger.json"
LOCK = ".lock"


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


def run_folder_job(opts: ScoreOptions, inputs: list[str], output_dir: Path, fail_fast: bool) -> dict:
    """Score every input file not yet in the ledger under this model; returns the job summary."""
    model_dir = export_folder(opts.model)
    _, variant = choose(model_dir, opts.provider, opts.precision)
    model_hash = variant_hash(model_dir, variant, read_manifest(model_dir), verify=False)
    files = [Path(p) for p in expand_inputs(inputs) if not p.startswith("hub:")]
    started = time.perf_counter()
    outcomes = []
    with locked(output_dir):
        ledger = read_ledger(output_dir)
        log.event("job.start", inputs=len(files), output_dir=str(output_dir), model=str(model_dir))
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
                summary = score(opts, [str(path)], str(out), mode="auto")
            except (BadInput, OutputError) as exc:
                entry.update(status="failed", error=str(exc), finished=time.strftime("%FT%T%z"))
                outcomes.append({"input": str(path), "outcome": "failed", "error": str(exc)})
                log.event("file.failed", input=str(path), error=str(exc))
                ledger[key] = entry
                atomic.write_json(output_dir / LEDGER, ledger)
                if fail_fast:
                    break
                continue
            entry.update(status="scored", rows=summary["rows"], skipped_rows=summary["skipped"]["rows"],
                         seconds=summary["seconds"], finished=time.strftime("%FT%T%z"))
            ledger[key] = entry
            atomic.write_json(output_dir / LEDGER, ledger)
            outcomes.append({"input": str(path), "outcome": "scored", "rows": summary["rows"],
                             "seconds": summary["seconds"]})
            log.event("file.scored", input=str(path), rows=summary["rows"], seconds=summary["seconds"],
                      output=str(out))
        result = {"output_dir": str(output_dir), "seconds": round(time.perf_counter() - started, 3),
                  "scored": sum(o["outcome"] == "scored" for o in outcomes),
                  "skipped": sum(o["outcome"] == "skipped" for o in outcomes),
                  "failed": sum(o["outcome"] == "failed" for o in outcomes),
                  "not_attempted": len(files) - len(outcomes), "files": outcomes}
        atomic.write_json(output_dir / "job.summary.json", result)
        log.event("job.end", **{k: v for k, v in result.items() if k != "files"})
    return result

