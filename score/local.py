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
        self.windows = 0  # windows scored since the spec was loaded

    def open(self, model: ModelSpec) -> str:
        """Load the variant (its files checked against the manifest); once per spec."""
        if model != self.spec:
            self.model = load_model(model.folder, model.variant, model.provider, self.options.threads)
            self.spec, self.windows = model, 0
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
                if self.windows == 1:
                    # the largest batches once, before the second window (a one-window job's result does
                    # not wait for it): memory peaks here, whatever batches the input brings later
                    model.warm_up(settings.token_budget, settings.max_batch_rows)
                table, stats = infer(model, prepared, settings, source)
                self.windows += 1
                yield Scored(prepared.window, table, stats)
                release_free_memory()

    def close(self) -> None:
        self.model = self.spec = None
