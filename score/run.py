"""The `score` command: choose provider and variant, open the job, run an engine, assemble, summarise."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from score import job
from score.predict import Settings
from score.readers import Columns, expand_inputs
from sentiscore import atomic
from sentiscore.errors import BadInput, OutputError
from sentiscore.manifest import read_manifest
from sentiscore.onnx_model import OnnxModel, cuda_available, export_folder, require_cuda, variant_hash


def choose(model_dir: Path, provider: str, precision: str | None) -> tuple[str, str]:
    """(provider, variant): auto takes CUDA with fp16 where onnxruntime-gpu and a GPU are present."""
    meta = read_manifest(model_dir)
    if provider == "auto":
        provider = "cuda" if cuda_available() else "cpu"
    if provider == "cuda":
        require_cuda()
    if provider not in ("cpu", "cuda"):
        raise BadInput(f"--provider {provider}: use auto, cpu or cuda")
    variant = precision or meta[f"default_{provider}_variant"]
    if variant not in meta["variants"]:
        raise BadInput(f"--precision {variant}: {model_dir} has no {variant} variant "
                       f"(exported: {', '.join(meta['variants'])})")
    return provider, variant


def fingerprint(spec: str) -> list[int] | None:
    """Size and modification time of a file input: a changed file is a different job."""
    if spec.startswith("hub:"):
        return None
    stat = Path(spec).stat()
    return [stat.st_size, stat.st_mtime_ns]


def default_output(inputs: list[str], split: str | None) -> Path:
    first = inputs[0]
    if first.startswith("hub:"):
        return Path(re.sub(r"[^\w.-]+", "_", f"{first[4:]}-{split or 'test'}").strip("_") + ".predictions.parquet")
    path = Path(first)
    return path.with_name(path.stem + ".predictions.parquet") if path.is_file() else \
        path.with_name(path.name + ".predictions.parquet")


@dataclass
class ScoreOptions:
    """Everything about a scoring run except what it reads and writes (shared by every file of a folder job)."""

    model: str
    columns: Columns = field(default_factory=Columns)
    split: str | None = None
    precision: str | None = None
    provider: str = "auto"
    settings: Settings = field(default_factory=Settings)
    engine: str = "local"
    threads: int | None = None
    ray_address: str | None = None
    workers: int | None = None
    quiet: bool = False


def score(opts: ScoreOptions, inputs: list[str], output: str | None, mode: str = "new") -> dict:
    """Score INPUTS into OUTPUT and OUTPUT's summary; returns the summary. `mode`: see job.start_job."""
    started = time.perf_counter()
    model_dir = export_folder(opts.model)
    provider, variant = choose(model_dir, opts.provider, opts.precision)
    specs = expand_inputs(inputs)
    out = Path(output) if output else default_output(specs, opts.split)
    if out.suffix != ".parquet":
        raise BadInput(f"-o {out}: the output must be a .parquet file")
    if opts.engine == "ray":  # the actors load the model; here only its files are checked
        session, model_hash = None, variant_hash(model_dir, variant, read_manifest(model_dir))
    else:
        session = OnnxModel(model_dir, variant=variant, provider=provider, threads=opts.threads)  # verifies hashes
        session.warm_up(opts.settings.token_budget, opts.settings.max_batch_rows)
        model_hash = session.model_hash
    identity = {"model_hash": model_hash, "variant": variant, "inputs": specs, "split": opts.split,
                "fingerprints": [fingerprint(spec) for spec in specs],
                "columns": asdict(opts.columns), "settings": asdict(opts.settings)}
    try:
        folder = job.start_job(out, identity, mode)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    resumed = any(folder.glob("part-*.parquet"))
    ready = time.perf_counter()
    try:
        if opts.engine == "ray":
            from score.ray_engine import run_ray

            totals = run_ray(model_dir, variant, provider, specs, opts.columns, opts.split, opts.settings, folder,
                             opts.ray_address, opts.workers, opts.threads, opts.quiet)
        else:
            from score.local import run_local

            totals = run_local(session, specs, opts.columns, opts.split, opts.settings, folder, opts.quiet)
        result = job.assemble(folder, out)
    except BadInput:
        job.finish(folder)  # bad input will not get better by resuming: leave nothing behind
        raise
    except OSError as exc:  # disk full, read-only: what was committed stays for --resume
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc}); committed windows are kept in "
                          f"{folder}: make room, then rerun with --resume") from None
    finished = time.perf_counter()
    seconds = finished - started
    summary = {
        "output": str(out), "inputs": specs, "rows": result["rows"],
        "skipped": {"rows": sum(result["skipped"].values()), "reasons": result["skipped"]},
        "seconds": round(seconds, 3), "rows_per_s": round(result["rows"] / seconds, 1) if seconds else None,
        # load: model, hash check, warm-up, job state (the Ray actors load theirs during scoring);
        # scoring: reading, tokenising, inference, committing parts, assembling the output
        "load_s": round(ready - started, 3), "scoring_s": round(finished - ready, 3),
        "model": str(model_dir), "model_hash": model_hash, "precision": variant, "provider": provider,
        "engine": opts.engine, "resumed": resumed, "this_run": totals, "settings": asdict(opts.settings),
    }
    if "metrics" in result:
        summary["metrics"] = result["metrics"]
    try:
        atomic.write_json(job.summary_path(out), summary)
    except OSError as exc:
        raise OutputError(f"{job.summary_path(out)}: cannot write ({exc.strerror or exc}); rerun with --resume") \
            from None
    job.finish(folder)
    return summary
