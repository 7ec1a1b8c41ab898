"""A test engine, as a new engine would be written: one module, one class with open/scored/close.
It holds back every window and scores them last-first, so the stage must put rows in order itself."""

from __future__ import annotations

from collections.abc import Iterator

from sentiscore.onnx_model import OnnxModel
from sentiscore.score.batching import Window
from sentiscore.score.engines import EngineOptions, ModelSpec, Scored
from sentiscore.score.predict import score_window


class ReversedEngine:
    name = "reversed"
    workers = 1

    def __init__(self, options: EngineOptions) -> None:
        self.options = options

    def open(self, model: ModelSpec) -> str:
        self.spec = model
        self.model = OnnxModel.load(model.folder, model.variant, model.provider, self.options.threads)
        return self.model.model_hash

    def scored(self, pending: Iterator[tuple[str, Window]]) -> Iterator[Scored]:
        for source, window in reversed(list(pending)):
            yield Scored(window, *score_window(self.model, window, self.spec.settings, source))

    def close(self) -> None:
        self.model = None
