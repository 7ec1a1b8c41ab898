"""The engine interface: an engine scores pending windows of a job; the stage commits what it returns.

Every engine scores a window with the same function (predict.score_window) on the same fixed
windows, so a row gets the same prediction whichever engine ran it. Adding an engine is one module
with a class that has the three methods of `Engine`, and one line in ENGINES.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from sentiscore.errors import BadInput
from sentiscore.score.batching import Window
from sentiscore.score.predict import Settings

# name -> "module:Class", imported only when chosen (the Ray engine imports ray)
ENGINES = {
    "local": "sentiscore.score.local:LocalEngine",
    "ray": "sentiscore.score.ray_engine:RayEngine",
}


@dataclass(frozen=True)
class ModelSpec:
    """The model every worker of an engine loads: a variant of an export folder on a provider."""

    folder: Path
    variant: str
    provider: str
    settings: Settings


@dataclass(frozen=True)
class EngineOptions:
    threads: int | None = None  # onnxruntime threads per session (local: one per core; ray: 1 per actor)
    address: str | None = None  # ray: an existing cluster (None: start one here)
    workers: int | None = None  # ray: actors (None: one per CPU of the cluster)

    def __post_init__(self) -> None:
        for name in ("threads", "workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BadInput(f"--{name} {value}: must be a positive integer")


@dataclass
class Scored:
    """One window's predictions and counts, from whichever worker scored it."""

    window: Window
    table: pa.Table
    stats: dict


class Engine(Protocol):
    name: str
    workers: int  # sessions scoring at once

    def open(self, model: ModelSpec) -> str:
        """Load (or check) the model for scoring; return its hash. Idempotent for the same spec."""

    def scored(self, pending: Iterator[tuple[str, Window]]) -> Iterator[Scored]:
        """Score every (source, window) of PENDING, yielding each as it is done, in any order."""

    def close(self) -> None:
        """Release sessions, actors, clusters."""


def make_engine(name: str, options: EngineOptions = EngineOptions()) -> Engine:
    if name not in ENGINES:
        raise BadInput(f"--engine {name}: unknown (use {', '.join(ENGINES)})")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)(options)
