"""The Ray engine: the local engine's windows, scored by a pool of actors across a Ray cluster.

The driver reads the inputs with the same readers and cuts the same fixed windows as the local
engine, so every window, and so every batch, is identical: predictions match id by id, even under
dynamic int8. Each actor loads the ONNX session once (checking the files against the manifest on
its own node) and runs `score_window`, the local engine's function. The driver commits each
returned window as its part, keyed by input and window: an actor that dies is restarted by Ray and
its window retried, and a retried window can only rewrite its own part, never add a row twice. A
killed driver leaves OUTPUT.job behind; `--resume` continues from the windows without a part.
"""

from __future__ import annotations

from pathlib import Path

from score import job
from score.local import add_counts, pending_windows, progress_bar
from score.predict import Settings
from score.readers import Columns
from sentiscore.errors import BadInput


def _scorer_class():
    import ray

    from score.predict import release_free_memory, score_window
    from sentiscore.onnx_model import OnnxModel

    @ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)
    class Scorer:
        def __init__(self, model_dir: str, variant: str, provider: str, threads: int, settings: Settings) -> None:
            self.model = OnnxModel(Path(model_dir), variant=variant, provider=provider, threads=threads)
            self.model.warm_up(settings.token_budget, settings.max_batch_rows)

        def score(self, window, settings: Settings, source: str):
            result = score_window(self.model, window, settings, source)
            release_free_memory()
            return result

    return Scorer


def run_ray(model_dir: Path, variant: str, provider: str, inputs: list[str], columns: Columns, split: str | None,
            settings: Settings, folder: Path, address: str | None, workers: int | None, threads: int | None,
            quiet: bool = False) -> dict:
    """Score every pending window on Ray actors; returns token counts for the summary."""
    try:
        import ray
    except ImportError:
        raise BadInput("--engine ray: ray is not installed (pip install 'sentiscore[ray]')") from None

    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, include_dashboard=False,
                 configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise BadInput(f"--ray-address {address}: cannot connect ({str(exc).splitlines()[0]})") from None
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        scorer = _scorer_class()
        actors = [scorer.remote(str(model_dir.resolve()), variant, provider, threads or 1, settings)
                  for _ in range(count)]
        totals = {"tokens": 0, "padded_tokens": 0, "batches": 0, "workers": count}
        in_flight: dict = {}
        with progress_bar(inputs, quiet) as progress:
            stream = pending_windows(inputs, columns, split, settings, folder, progress)
            turn = 0

            def collect(ready) -> None:
                window = in_flight.pop(ready)
                try:
                    table, stats = ray.get(ready)
                except ray.exceptions.RayTaskError as exc:
                    if isinstance(exc.cause, BadInput):
                        raise exc.cause from None
                    raise
                job.commit_part(folder, window.input_index, window.index, table, stats)
                add_counts(totals, stats)
                progress.update(len(window.ids))

            for source, window in stream:
                ref = actors[turn % count].score.remote(window, settings, source)
                turn += 1
                in_flight[ref] = window
                while len(in_flight) >= 2 * count:  # two windows queued per actor bounds the driver's memory
                    done, _ = ray.wait(list(in_flight), num_returns=1)
                    collect(done[0])
            while in_flight:
                done, _ = ray.wait(list(in_flight), num_returns=1)
                collect(done[0])
        return totals
    finally:
        ray.shutdown()
