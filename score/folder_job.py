"""The folder job: each input file of a folder scored into its own output in OUTPUT_DIR, unattended.

OUTPUT_DIR/ledger.jsonl remembers every input scored or failed (path, size, sha256, the hash of the
model that scored it, rows, time, status), one JSON line appended per file, so a nightly run scores
only what is new or changed, or everything again under a new model or with --overwrite.
OUTPUT_DIR/.lock keeps two jobs apart (score/lock.py). Files modified in the last --min-age seconds
are left for the next run (they may still be being copied). An entry that cannot be read (a folder
named x.parquet, a dangling link, a FIFO, an unreadable file) fails alone; the others are scored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sentiscore import atomic, log
from sentiscore.errors import ERRORS, BadInput, OutputError, io_failure
from sentiscore.manifest import sha256_file
from sentiscore.models import choose_variant, find_model
from sentiscore.models import model_hash as model_hash_of
from sentiscore.readers import BUNDLED, HUB, bundled_path, check_file, files_in
from sentiscore.score.engines import Engine
from sentiscore.score.file_job import check_output_place, score_file
from sentiscore.score.job import ScoreJob, summary_path
from sentiscore.score.lock import locked

LEDGER = "ledger.jsonl"
LOCK = ".lock"


@dataclass(frozen=True)
class FolderSummary:
    """OUTPUT_DIR/job.summary.json: each file's outcome and the counts."""

    output_dir: str
    seconds: float
    scored: int
    skipped: int
    waiting: int  # modified less than --min-age seconds ago: left for the next run
    failed: int
    not_attempted: int
    files: list[dict]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def lines(self) -> list[str]:
        if not self.files:
            return [f"nothing to do: no input files; ledger in {self.output_dir}"]
        lines = [f"{f['outcome']:>8}  {f['input']}" + (f"  ({f['rows']} rows)" if "rows" in f else "")
                 + (f"  {f['error']}" if "error" in f else "") + (f"  {f['reason']}" if "reason" in f else "")
                 for f in self.files]
        return [*lines, f"{self.scored} scored, {self.skipped} skipped, {self.waiting} waiting, {self.failed} failed, "
                        f"{self.not_attempted} not attempted; ledger in {self.output_dir}"]


def read_ledger(output_dir: Path) -> dict:
    """The newest entry of each input. A line cut short by a kill mid-append is skipped, with a warning."""
    path = output_dir / LEDGER
    ledger: dict = {}
    if not path.is_file():
        return ledger
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: unreadable ({exc}); move it away to rescore everything") from None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            ledger[entry["key"]] = entry
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("ledger.line_skipped", ledger=str(path), line=number)
    return ledger


def append_ledger(output_dir: Path, entry: dict) -> None:
    """One JSON line per file, flushed to disk: the ledger never rewrites what it already holds."""
    path = output_dir / LEDGER
    try:
        with open(path, "a+b") as f:
            torn = f.tell() > 0 and os.pread(f.fileno(), 1, f.tell() - 1) != b"\n"
            f.write((b"\n" if torn else b"") + json.dumps(entry).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise io_failure(f"{path}: cannot append", exc, retry_hint="retry: scored files are kept") from None


def output_name(input_path: Path) -> str:
    """reviews.csv -> reviews.csv.predictions.parquet: distinct for a.csv and a.parquet."""
    return input_path.name + ".predictions.parquet"


def input_files(job: ScoreJob) -> list[Path]:
    """The job's input files: each folder's data entries (unchecked: each fails alone), files, bundled."""
    files: list[Path] = []
    for spec in job.inputs:
        path = Path(spec)
        if spec.startswith(HUB):
            raise BadInput(f"{spec}: a folder job scores files; score a hub dataset with -o FILE.parquet")
        if spec == BUNDLED:
            files.append(bundled_path())
        elif path.is_dir():
            files.extend(files_in(path))
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise BadInput(f"{spec}: no such file or folder")
    return files


def collisions(files: list[Path], ledger: dict) -> dict[Path, str]:
    """Files whose output name another input also claims (this run, or a ledger entry of an input that
    still exists): scoring either would overwrite the other's output, or skip it forever."""
    by_name = Counter(output_name(p) for p in files)
    clashes = {}
    for path in files:
        name = output_name(path)
        others = [str(p) for p in files if output_name(p) == name and p != path]
        others += [e["input"] for k, e in ledger.items() if Path(e.get("output", "")).name == name
                   and k != str(path.resolve()) and Path(k).exists() and e.get("status") == "scored"]
        if by_name[name] > 1 or others:
            clashes[path] = (f"{path}: its output {name} is also that of {others[0]}; score inputs with the same "
                             "file name into different output folders")
    return clashes


def score_folder(job: ScoreJob, engine: Engine) -> FolderSummary:
    """Score every input file of JOB not yet in the ledger under this model into JOB.output."""
    output_dir = job.output
    export = find_model(job.model)
    _, variant = choose_variant(export, job.provider, job.precision, job.runtime)
    model_hash = model_hash_of(export, variant)
    files = input_files(job)
    check_output_place(output_dir, job.inputs)
    started = time.perf_counter()
    outcomes: list[dict] = []
    with locked(output_dir / LOCK, str(output_dir)):
        ledger = read_ledger(output_dir)
        clashes = collisions(files, ledger)
        log.event("job.start", inputs=len(files), output_dir=str(output_dir), model=str(export.path))
        for path in files:
            outcome = score_one(job, engine, path, output_dir, ledger, model_hash, clashes.get(path))
            outcomes.append(outcome)
            if outcome["outcome"] == "failed" and job.fail_fast:
                break
        count = Counter(o["outcome"] for o in outcomes)
        result = FolderSummary(
            output_dir=str(output_dir), seconds=round(time.perf_counter() - started, 3), scored=count["scored"],
            skipped=count["skipped"], waiting=count["waiting"], failed=count["failed"],
            not_attempted=len(files) - len(outcomes), files=outcomes)
        try:
            atomic.write_json(output_dir / "job.summary.json", result.to_dict())
        except OSError as exc:
            raise io_failure(f"{output_dir / 'job.summary.json'}: cannot write", exc) from None
    return result


def score_one(job: ScoreJob, engine: Engine, path: Path, output_dir: Path, ledger: dict, model_hash: str,
              clash: str | None) -> dict:
    """One file of a folder job: skipped, waiting, scored or failed (bad input, alone). A transient
    failure, a failed check or a stop ends the whole job (the ledger says what was done)."""
    key = str(path.resolve())
    out = output_dir / output_name(path)
    try:
        if clash:
            raise BadInput(clash)
        check_file(path)
        age = time.time() - path.stat().st_mtime
        if age < job.min_age:
            reason = f"modified {age:.0f} s ago (--min-age {job.min_age:g}): left for the next run"
            log.event("file.waiting", input=str(path), reason=reason)
            return {"input": str(path), "outcome": "waiting", "reason": reason}
        digest = sha256_file(path)
    except BadInput as exc:
        return failed(output_dir, path, key, out, {}, exc)
    except OSError as exc:
        error = io_failure(str(path), exc, BadInput)
        if not isinstance(error, BadInput):
            raise error from None
        return failed(output_dir, path, key, out, {}, error)
    done = ledger.get(key, {})
    if (job.mode != "overwrite" and done.get("status") == "scored" and done.get("sha256") == digest
            and done.get("model_hash") == model_hash and out.is_file()):
        log.event("file.skipped", input=str(path), reason="already scored by this model")
        return {"input": str(path), "outcome": "skipped", "reason": "already scored by this model"}
    entry = {"key": key, "input": str(path), "bytes": path.stat().st_size, "sha256": digest, "output": str(out)}
    stale = out.exists()  # an output of older content or another model: it must not outlive a failed rescore
    try:
        mode = "overwrite" if job.mode == "overwrite" else "auto"
        summary = score_file(dataclasses.replace(job, inputs=[str(path)], output=out, mode=mode), engine,
                             digests={str(path): digest})
    except (BadInput, OutputError) as exc:
        return failed(output_dir, path, key, out, entry, exc, stale)
    except BaseException as exc:  # transient, a failed check, a stop: the whole job ends here
        if stale:
            remove_output(out)
        with contextlib.suppress(*ERRORS):  # the ledger may sit on the same full disk: report the first failure
            error = str(exc) if isinstance(exc, Exception) else f"stopped ({type(exc).__name__})"
            append_ledger(output_dir, {**entry, "status": "failed", "error": error,
                                       "finished": time.strftime("%FT%T%z")})
        raise
    entry.update(status="scored", model_hash=summary.model_hash, variant=summary.precision, rows=summary.rows,
                 skipped_rows=summary.skipped["rows"], seconds=summary.seconds, finished=time.strftime("%FT%T%z"))
    append_ledger(output_dir, entry)
    log.event("file.scored", input=str(path), rows=summary.rows, seconds=summary.seconds, output=str(out))
    return {"input": str(path), "outcome": "scored", "rows": summary.rows, "seconds": summary.seconds}


def remove_output(out: Path) -> None:
    out.unlink(missing_ok=True)
    summary_path(out).unlink(missing_ok=True)


def failed(output_dir: Path, path: Path, key: str, out: Path, entry: dict, exc: Exception,
           stale: bool = False) -> dict:
    """Record a file that failed on its own input (the job goes on to the next file)."""
    if stale:
        remove_output(out)
    append_ledger(output_dir, {"key": key, "input": str(path), **entry, "status": "failed", "error": str(exc),
                               "finished": time.strftime("%FT%T%z")})
    log.event("file.failed", input=str(path), error=str(exc))
    return {"input": str(path), "outcome": "failed", "error": str(exc)}
