"""The `score` command: choose provider and variant, open the job, run an engine, assemble, summarise."""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path

from score import job
from score.predict import Settings
from score.readers import Columns, expand_inputs
from sentiscore import atomic
from sentiscore.errors import BadInput
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


def default_output(inputs: list[str], split: str | None) -> Path:
    first = inputs[0]
    if first.startswith("hub:"):
        return Path(re.sub(r"[^\w.-]+", "_", f"{first[4:]}-{split or 'test'}").strip("_") + ".predictions.parquet")
    path = Path(first)
    return path.with_name(path.stem + ".predictions.parquet") if path.is_file() else \
        path.with_name(path.name + ".predictions.parquet")


def score(model: str, inputs: list[str], output: str | None, columns: Columns, split: str | None,
          precision: str | None, provider: str, settings: Settings, resume: bool, overwrite: bool,
          engine: str = "local", threads: int | None = None, ray_address: str | None = None,
          workers: int | None = None, quiet: bool = False) -> dict:
    """Score INPUTS with MODEL into OUTPUT and OUTPUT's summary; returns the summary."""
    started = time.perf_counter()
    model_dir = export_folder(model)
    provider, variant = choose(model_dir, provider, precision)
    specs = expand_inputs(inputs)
    out = Path(output) if output else default_output(specs, split)
    if out.suffix != ".parquet":
        raise BadInput(f"-o {out}: the output must be a .parquet file")
    if engine == "ray":  # the actors load the model; here only its files are checked
        session, model_hash = None, variant_hash(model_dir, variant, read_manifest(model_dir))
    else:
        session = OnnxModel(model_dir, variant=variant, provider=provider, threads=threads)  # verifies hashes
        model_hash = session.model_hash
    identity = {"model_hash": model_hash, "variant": variant, "inputs": specs, "split": split,
                "columns": asdict(columns), "settings": asdict(settings)}
    folder = job.start_job(out, identity, resume, overwrite)
    resumed = any(folder.glob("part-*.parquet"))
    try:
        if engine == "ray":
            from score.ray_engine import run_ray

            totals = run_ray(model_dir, variant, provider, specs, columns, split, settings, folder, ray_address,
                             workers, threads, quiet)
        else:
            from score.local import run_local

            totals = run_local(session, specs, columns, split, settings, folder, quiet)
        result = job.assemble(folder, out)
    except BadInput:
        job.finish(folder)  # bad input will not get better by resuming: leave nothing behind
        raise
    seconds = time.perf_counter() - started
    summary = {
        "output": str(out), "inputs": specs, "rows": result["rows"],
        "skipped": {"rows": sum(result["skipped"].values()), "reasons": result["skipped"]},
        "seconds": round(seconds, 3), "rows_per_s": round(result["rows"] / seconds, 1) if seconds else None,
        "model": str(model_dir), "model_hash": model_hash, "precision": variant, "provider": provider,
        "engine": engine, "resumed": resumed, "this_run": totals, "settings": asdict(settings),
    }
    if "metrics" in result:
        summary["metrics"] = result["metrics"]
    atomic.write_json(job.summary_path(out), summary)
    job.finish(folder)
    return summary
