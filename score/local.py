"""The local engine: windows flow through one onnxruntime session; the next window is tokenised
on a second thread while the current one runs (tokenizers and onnxruntime both release the GIL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from sentiscore.cascade import CascadeModel
from sentiscore.models import load_model
from sentiscore.onnx_model import OnnxModel
from sentiscore.score.batching import Window
from sentiscore.score.engines import EngineOptions, ModelSpec, Scored
from sentiscore.score.predict import infer, prepare, release_free_memory


class LocalEngine:
    name = "local"
    workers = 1

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.spec: ModelSpec | None = None
        self.model: OnnxModel | CascadeModel | None = None

    def open(self, model: ModelSpec) -> str:
        """Load the variant (its files checked against the manifest) and warm it up; once per spec."""
        if model != self.spec:
            self.model = load_model(model.folder, model.variant, model.provider, self.options.threads)
            self.model.warm_up(model.settings.token_budget, model.settings.max_batch_rows)
            self.spec = model
        return self.model.model_hash

    def scored(self, pending: Iterator[tuple[str, Window]]) -> Iterator[Scored]:
        model, settings = self.model, self.spec.settings
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenise") as pool:
            def next_prepared():
                item = next(pending, None)
                return None if item is None else (item[0], prepare(model, item[1], settings, item[0]))

            ahead = pool.submit(next_prepared)
            while (item := ahead.result()) is not None:
                source, prepared = item
                ahead = pool.submit(next_prepared)  # tokenise the next window while this one runs
                table, stats = infer(model, prepared, settings, source)
                yield Scored(prepared.window, table, stats)
                release_free_memory()

    def close(self) -> None:
        self.model = self.spec = None
