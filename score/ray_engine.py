"""The Ray engine: the local engine's windows, scored by a pool of actors across a Ray cluster.

The driver reads the inputs with the same reader and cuts the same fixed windows as the local
engine, so every window, and so every batch, is identical: predictions match id by id, even under
dynamic int8. Each actor loads the ONNX session once (checking the files against the manifest on
its own node) and runs `score_window`, the function every engine uses; every window it returns
carries the hash of the model it loaded, and the stage stops the job if that is not the driver's (a
node with another export, an actor restarted after a redeploy). The stage commits each
returned window as its part, keyed by input and window: an actor that dies is restarted by Ray and
its window retried, and a retried window can only rewrite its own part, never add a row twice. A
killed driver leaves OUTPUT.job behind; `--resume` continues from the windows without a part.

Why not Ray Data's readers: its blocks do not fall on fixed row offsets.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterator

from sentiscore import log
from sentiscore.cpu import differences
from sentiscore.errors import BadInput, Transient, first_line
from sentiscore.models import find_model, is_int8, model_hash
from sentiscore.score.batching import Window
from sentiscore.score.engines import EngineOptions, ModelSpec, Scored

QUEUED_PER_ACTOR = 2  # windows in flight per actor: keeps actors busy, bounds the driver's memory


def check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """A HOST:PORT cluster address must answer first: ray.init waits minutes on one that is down."""
    host, _, port = (address or "").rpartition(":")
    if not host or "://" in address or not port.isdigit():
        return  # none (start a cluster here), "auto", or a ray:// client address: Ray's own checks
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise Transient(f"--ray-address {address}: cannot connect ({exc.strerror or exc}); retry when the cluster "
                        "is up") from None


def _scorer_class():
    import ray

    from sentiscore.cpu import int8_features
    from sentiscore.models import load_model
    from sentiscore.score.predict import release_free_memory, score_window

    @ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)
    class Scorer:
        def __init__(self, spec: ModelSpec, threads: int) -> None:
            self.spec = spec
            self.model = load_model(spec.folder, spec.variant, spec.provider, threads)
            self.model.warm_up(spec.settings.token_budget, spec.settings.max_batch_rows)

        def cpu(self) -> tuple[str, dict]:
            return socket.gethostname(), int8_features()

        def score(self, window: Window, source: str):
            result = score_window(self.model, window, self.spec.settings, source)
            release_free_memory()
            return result

    return Scorer


def check_cpus(variant: str, export_cpu: dict, nodes: dict[str, dict]) -> None:
    """Warn where int8 may round differently: nodes whose int8 instruction sets differ from each other's
    or from the exporting machine's (a row near the boundary can then get another label)."""
    if not is_int8(variant) or not nodes:
        return
    first, reference = next(iter(nodes.items()))
    for node, features in nodes.items():
        if diff := differences(reference, features):
            log.warning("cpu.nodes_differ", node=node, compared_with=first, int8_flags=" ".join(diff),
                        reason="int8 rounds differently with other instruction sets: a row may get another label "
                               "depending on the node that scores it")
    for node, features in nodes.items():
        if export_cpu and (diff := differences(export_cpu, features)):
            log.warning("cpu.export_differs", node=node, int8_flags=" ".join(diff),
                        reason="this node's int8 instruction sets differ from the exporting machine's, where "
                               "the parity gate passed: check parity on one of these nodes")


class RayEngine:
    name = "ray"

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.spec: ModelSpec | None = None
        self.actors: list = []
        self.model_hash = ""

    def open(self, model: ModelSpec) -> str:
        """Check the model's files here (the actors check them again on their nodes), join or start a
        cluster, start the actors; once per spec."""
        if model == self.spec:
            return self.model_hash
        folder = find_model(model.folder.resolve())
        self.model_hash = model_hash(folder, model.variant, verify=True)
        try:
            import ray
        except ImportError:
            raise BadInput("--engine ray: ray is not installed (pip install 'sentiscore[ray]')") from None
        if not ray.is_initialized():
            check_reachable(self.options.address)
            on_sigterm = signal.getsignal(signal.SIGTERM)
            try:
                ray.init(address=self.options.address, logging_level="ERROR", log_to_driver=False,
                         include_dashboard=False, configure_logging=False)
            except (ConnectionError, TimeoutError) as exc:  # a cluster that is down may be up at the retry
                raise Transient(f"--ray-address {self.options.address}: cannot connect ({first_line(exc)}); "
                                "retry when the cluster is up") from None
            except (ValueError, RuntimeError) as exc:
                raise BadInput(f"--ray-address {self.options.address}: cannot connect ({first_line(exc)})") from None
            # ray.init puts in its own SIGTERM handler (sys.exit(15)): a stop must still end the job consistently
            signal.signal(signal.SIGTERM, on_sigterm)
            log.adopt_library_loggers()
        count = self.options.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        spec = ModelSpec(folder.path, model.variant, model.provider, model.settings)
        scorer = _scorer_class()
        self.actors = [scorer.remote(spec, self.options.threads or 1) for _ in range(count)]
        nodes = dict(ray.get([actor.cpu.remote() for actor in self.actors]))
        check_cpus(model.variant, folder.manifest().export_cpu, nodes)
        self.spec = model
        return self.model_hash

    def scored(self, pending: Iterator[tuple[str, Window]]) -> Iterator[Scored]:
        import ray

        in_flight: dict = {}

        def collect(ready) -> Scored:
            window = in_flight.pop(ready)
            try:
                table, stats = ray.get(ready)
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, (BadInput, Transient)):
                    raise exc.cause from None
                raise
            return Scored(window, table, stats)

        for turn, (source, window) in enumerate(pending):
            in_flight[self.actors[turn % len(self.actors)].score.remote(window, source)] = window
            while len(in_flight) >= QUEUED_PER_ACTOR * len(self.actors):
                done, _ = ray.wait(list(in_flight), num_returns=1)
                yield collect(done[0])
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1)
            yield collect(done[0])

    @property
    def workers(self) -> int:
        return len(self.actors)

    def close(self) -> None:
        ray = sys.modules.get("ray")  # not imported: nothing was started
        self.actors, self.spec = [], None
        if ray is not None and ray.is_initialized():
            ray.shutdown()
