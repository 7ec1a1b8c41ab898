"""The local engine: windows flow through one onnxruntime session; the next window is tokenised
on a second thread while the current one runs (tokenizers and onnxruntime both release the GIL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from score import job
from score.batching import Window, windows
from score.predict import Settings, infer, prepare, release_free_memory
from score.readers import Columns, read_chunks, row_count
from sentiscore.onnx_model import OnnxModel


def pending_windows(inputs: list[str], columns: Columns, split: str | None, settings: Settings,
                    folder: Path, progress: tqdm) -> Iterator[tuple[str, Window]]:
    """Every window of every input whose part is not yet committed (committed ones only advance the bar)."""
    for index, spec in enumerate(inputs):
        for window in windows(read_chunks(spec, columns, split), index, settings.window_rows):
            if job.part_path(folder, index, window.index).exists():
                progress.update(len(window.ids))
                continue
            yield spec, window


def progress_bar(inputs: list[str], quiet: bool) -> tqdm:
    """A bar over rows, with a total where the inputs tell their size up front (Parquet)."""
    known = [row_count(spec) for spec in inputs]
    total = sum(known) if all(n is not None for n in known) else None
    return tqdm(total=total, unit="rows", disable=quiet, dynamic_ncols=True)


def add_counts(totals: dict, stats: dict) -> None:
    for key in ("tokens", "padded_tokens", "batches"):
        totals[key] = totals.get(key, 0) + stats[key]


def run_local(model: OnnxModel, inputs: list[str], columns: Columns, split: str | None, settings: Settings,
              folder: Path, quiet: bool = False) -> dict:
    """Score every pending window into its part (MODEL warmed up); returns token counts for the summary."""
    totals = {"tokens": 0, "padded_tokens": 0, "batches": 0}
    with progress_bar(inputs, quiet) as progress, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenise") as pool:
        stream = pending_windows(inputs, columns, split, settings, folder, progress)

        def next_prepared():
            item = next(stream, None)
            return None if item is None else prepare(model, item[1], settings, item[0])

        ahead = pool.submit(next_prepared)
        while (prepared := ahead.result()) is not None:
            ahead = pool.submit(next_prepared)  # tokenise the next window while this one runs
            table, stats = infer(model, prepared)
            job.commit_part(folder, prepared.window.input_index, prepared.window.index, table, stats)
            release_free_memory()
            add_counts(totals, stats)
            progress.update(len(prepared.window.ids))
    return totals
