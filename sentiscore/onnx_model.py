"""One class owns the inference session (onnxruntime's, or OpenVINO's for its variant) and the tokenizer.

Shared by the parity gate (export) and the scorer (score), so both see a model the same way.
Imports neither torch nor transformers: a scoring host needs onnxruntime, tokenizers and numpy
(and openvino for the OpenVINO variant).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiscore import log
from sentiscore.errors import BadInput, first_line
from sentiscore.labels import DEFAULT
from sentiscore.manifest import EXACT_NAMES, PRECISIONS, RUNTIMES, VARIANTS, Manifest
from sentiscore.runs import ExportFolder
from sentiscore.tokens import Encoder

PROVIDERS = ("auto", "cpu", "cuda")
# On the CPU, onnxruntime would fuse the exported Add + LayerNormalization back into its
# SkipLayerNormalization kernel at load, 6x slower here (bench/README.md: 204 -> 256 reviews/s without it)
CPU_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
_ORT_PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def physical_cores() -> int:
    """Cores this process may use; onnxruntime runs best with one thread per core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cuda_available() -> bool:
    """Whether onnxruntime has its CUDA provider here. The provider is a library beside the bindings
    (onnxruntime-gpu's capi/libonnxruntime_providers_cuda.so); where there is none, the answer needs no
    import of onnxruntime (0.1 s of a one-row job that OpenVINO scores)."""
    spec = importlib.util.find_spec("onnxruntime")
    folders = spec.submodule_search_locations if spec else None
    if not folders or not any(any(Path(f, "capi").glob("*onnxruntime_providers_cuda*")) for f in folders):
        return False
    import onnxruntime as ort

    return _ORT_PROVIDER["cuda"] in ort.get_available_providers()


def require_cuda() -> None:
    """`--provider cuda` without onnxruntime's CUDA provider is bad input, said in one line."""
    if not cuda_available():
        raise BadInput("--provider cuda: onnxruntime has no CUDAExecutionProvider here "
                       "(install onnxruntime-gpu on a host with an NVIDIA GPU)")


def runtime_installed(runtime: str) -> bool:
    return runtime == "onnxruntime" or importlib.util.find_spec(runtime) is not None


def check_choice(precision: str | None, runtime: str | None) -> None:
    """--precision is a precision (fp32, int8, fp16) or a variant's name (int8-dynamic for the variant
    int8); --runtime one of RUNTIMES."""
    if precision is not None and precision not in (*PRECISIONS, *VARIANTS, *EXACT_NAMES):
        raise BadInput(f"--precision {precision}: use {', '.join(PRECISIONS)} or a variant "
                       f"({', '.join([*EXACT_NAMES, *(v for v in VARIANTS if v not in PRECISIONS)])})")
    if runtime is not None and runtime not in RUNTIMES:
        raise BadInput(f"--runtime {runtime}: use {', '.join(RUNTIMES)}")


def _cpu_variant(manifest: Manifest, precision: str | None, runtime: str | None) -> str:
    """The fastest CPU variant that passed the gate (the export's timing order) matching PRECISION and
    RUNTIME, among those whose runtime is installed here."""
    if precision == "fp16":
        raise BadInput("--precision fp16: the fp16 variant is for CUDA (on the CPU onnxruntime runs it slower than "
                       "fp32); use int8 or fp32, or --provider cuda")
    ordered = manifest.cpu_variants()
    ordered += [v for v in manifest.variants if v not in ordered and VARIANTS[v].precision != "fp16"]
    matching = [v for v in ordered if (precision in (None, v, VARIANTS[v].precision) or EXACT_NAMES.get(precision) == v)
                and runtime in (None, VARIANTS[v].runtime)]
    if not matching:
        wanted = " ".join(f"--{flag} {value}" for flag, value in (("precision", precision), ("runtime", runtime))
                          if value)
        raise BadInput(f"{wanted}: this export has no such variant for the CPU (exported: {', '.join(ordered)})")
    runnable = [v for v in matching if runtime_installed(VARIANTS[v].runtime)]
    if not runnable:
        missing = VARIANTS[matching[0]].runtime
        raise BadInput(f"--runtime {missing}: {missing} is not installed here (pip install 'sentiscore[{missing}]'), "
                       f"or choose another --runtime")
    if runnable[0] != matching[0]:
        log.warning("variant.unavailable", variant=matching[0], runtime=VARIANTS[matching[0]].runtime,
                    reason="its runtime is not installed here", using=runnable[0])
    return runnable[0]


def resolve_variant(manifest: Manifest, provider: str, precision: str | None,
                    runtime: str | None = None) -> tuple[str, str]:
    """(provider, variant): auto takes CUDA with its default variant (fp16) where onnxruntime-gpu and a
    GPU are present, else the CPU with the fastest variant that passed the gate on the exporting machine."""
    if provider not in PROVIDERS:
        raise BadInput(f"--provider {provider}: use {', '.join(PROVIDERS)}")
    check_choice(precision, runtime)
    if provider == "auto":
        # CUDA is onnxruntime's: a choice of another runtime (or of its variant) means the CPU
        chosen = VARIANTS[EXACT_NAMES.get(precision, precision or "fp32")].runtime if runtime is None else runtime
        provider = "cuda" if chosen == "onnxruntime" and cuda_available() else "cpu"
    if provider == "cpu":
        return provider, _cpu_variant(manifest, precision, runtime)
    if runtime not in (None, "onnxruntime"):
        raise BadInput(f"--runtime {runtime}: runs on the CPU only; use --provider cpu")
    require_cuda()
    variant = EXACT_NAMES.get(precision, precision) or manifest.default_cuda_variant
    manifest.variant_hash(variant)  # names the variants there are, if this one is not
    return provider, variant


def session_options(threads: int | None = None):
    """The session settings every run uses: one thread per core, full graph optimisation, sequential."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: onnxruntime's warnings would bypass the log handler
    return options


def pad_batch(ids: list[list[int]], pad_id: int, width: int | None = None) -> dict[str, np.ndarray]:
    """BERT inputs (int64) for one batch, padded to WIDTH (default: its longest sequence)."""
    width = width or max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


# OpenVINO's CPU plugin prepares its kernels anew for each input shape it has not met: widths rounded up
# to a multiple of 8 cut the shapes of 600 review-length rows from 36 to 14 and their first pass by a
# fifth (5.1 s to 3.9 s, median of 5), for 3% more padded tokens. onnxruntime's first pass gains nothing
# from it (4.5-4.9 s either way), so its batches stay padded to their longest row.
WIDTH_MULTIPLE = {"onnxruntime": 1, "openvino": 8}


def openvino_cache(model_hash: str) -> Path | None:
    """Where OpenVINO keeps its compiled copy of the model with this sha256 ($SENTISCORE_CACHE_DIR, else
    $XDG_CACHE_HOME/sentiscore, else ~/.cache/sentiscore): compiling MiniLM takes about 0.6 s, loading
    the cached copy 0.2 s, the difference between a start-up under or over a second. One folder per model
    file hash, so a redeployed file never meets another file's compiled copy; None without a hash."""
    if not model_hash:
        return None
    from sentiscore.encoders import cache_dir

    return cache_dir() / "openvino" / model_hash[:16]


def writable_folder(folder: Path) -> bool:
    """Whether FOLDER exists (made if need be) and can be written; if not, an `openvino.no_cache` warning:
    the model is then compiled as it would be without a cache (a read-only home, say)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("openvino.no_cache", cache=str(folder), reason=exc.strerror or str(exc))
        return False
    if not os.access(folder, os.W_OK):
        log.warning("openvino.no_cache", cache=str(folder), reason="not writable")
        return False
    return True


@contextlib.contextmanager
def openvino_telemetry_off() -> Iterator[None]:
    """Import openvino (and nncf) inside this. `import openvino` sends a usage event to Google Analytics
    unless the user ran `opt_in_out --opt_out` (openvino-telemetry: on by default), from a process forked
    off this one that the interpreter waits for at exit (up to 3 s where the network drops packets),
    and writes a client id under ~/intel. A batch job does neither. The one switch a process has is
    the CI variable both libraries read once, as they start (`disable_in_ci`): set for the import only."""
    before = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = before


def openvino_config(threads: int) -> dict:
    """How sentiscore compiles a model for OpenVINO's CPU (the scorer, and the bench's OpenVINO limit).
    LATENCY: one stream, every thread on the one batch in flight (the scorer runs one at a time).
    f32: on a CPU with bf16 (AMX, AVX512_BF16) OpenVINO runs a model's float parts in bf16 unless told
    otherwise; measured on such a Xeon, that cost the teacher's openvino-int8 3.5 points on the test
    sentences and moved a row's logits by 0.3 with its batch-mates. The parity gate is measured in f32."""
    return {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}


class OpenVinoSession:
    """OpenVINO's compiled model behind the one call the scorer makes of a session: run(feeds) -> logits."""

    def __init__(self, model_file: Path, threads: int, cache: Path | None = None) -> None:
        with openvino_telemetry_off():
            import openvino as ov

        config = openvino_config(threads)
        if cache and writable_folder(cache):  # a cached copy that cannot be read OpenVINO compiles anew
            config["CACHE_DIR"] = str(cache)
        try:
            self.compiled = ov.Core().compile_model(str(model_file), "CPU", config)
        except RuntimeError as exc:  # a CPU or an OpenVINO release that cannot run this IR
            raise BadInput(f"{model_file}: OpenVINO cannot compile it ({first_line(exc)}); score with "
                           "--runtime onnxruntime") from None
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # what it gave, not what was asked
        if precision != ov.Type.f32:
            raise BadInput(f"{model_file}: OpenVINO compiled it in {precision.get_type_name()}, not f32; score with "
                           "--runtime onnxruntime")
        self.request = self.compiled.create_infer_request()
        self.input_names = [port.any_name for port in self.compiled.inputs]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.request.infer(feeds)[0].copy()


@dataclass
class OnnxModel:
    """A model file ready to run: `encode` texts, `pad` a batch of ids, `run` it.

    `OnnxModel.load` opens a variant of an export folder after checking its files against the
    manifest; the plain constructor takes a model file as it is (the export stage's candidates).
    After creating an onnxruntime session it checks which provider onnxruntime really gave it.
    RUNTIME openvino runs an OpenVINO IR file (or an ONNX file) through OpenVINO, on the CPU.
    """

    model_file: Path
    tokenizer_file: Path
    max_length: int
    pad_id: int = 0
    provider: str = "cpu"
    threads: int | None = None
    io_binding: bool | None = None  # None: on CUDA only, where it saves a copy of the outputs per batch
    model_hash: str = ""  # the manifest's sha256 of model_file, where loaded from an export folder
    truncation: str = "head"  # how a text over max_length is cut (sentiscore.tokens), from the manifest
    runtime: str = "onnxruntime"
    labels: tuple[str, ...] = DEFAULT  # the classes, in the logits' order (the manifest's)
    session: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.encoder = Encoder.from_file(self.tokenizer_file, self.max_length, self.truncation)
        self.width_multiple = WIDTH_MULTIPLE[self.runtime]
        if self.runtime == "openvino":
            if self.provider != "cpu":
                raise BadInput(f"--provider {self.provider}: the OpenVINO variant runs on the CPU; use --provider cpu")
            if not runtime_installed("openvino"):
                raise BadInput("--runtime openvino: openvino is not installed here "
                               "(pip install 'sentiscore[openvino]')")
            self.session = OpenVinoSession(self.model_file, self.threads or physical_cores(),
                                           openvino_cache(self.model_hash))
            self.input_names, self.io_binding = self.session.input_names, False
            return
        import onnxruntime as ort

        if self.provider == "cuda":
            require_cuda()
        providers = [_ORT_PROVIDER["cuda"], _ORT_PROVIDER["cpu"]] if self.provider == "cuda" else [_ORT_PROVIDER["cpu"]]
        self.session = ort.InferenceSession(str(self.model_file), session_options(self.threads), providers=providers,
                                            disabled_optimizers=CPU_DISABLED_OPTIMIZERS if self.provider == "cpu"
                                            else None)
        if self.session.get_providers()[0] != _ORT_PROVIDER[self.provider]:
            raise BadInput(f"--provider {self.provider}: onnxruntime gave {self.session.get_providers()[0]} "
                           f"for {self.model_file.name} (is the GPU visible to this process?)")
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        if self.io_binding is None:
            self.io_binding = self.provider == "cuda"

    @classmethod
    def load(cls, model: str | Path | ExportFolder, variant: str, provider: str = "cpu", threads: int | None = None,
             verify: bool = True, io_binding: bool | None = None) -> OnnxModel:
        """A variant of an export folder, its files first checked against manifest.json (with `verify`)."""
        folder = model if isinstance(model, ExportFolder) else ExportFolder.find(model)
        if variant not in VARIANTS:
            raise BadInput(f"--precision {variant}: unknown (use {', '.join(VARIANTS)})")
        manifest = folder.manifest()
        model_hash = manifest.variant_hash(variant)
        if verify:
            manifest.verify(folder.path, manifest.variant_files(variant))
        return cls(folder.variant_file(variant), folder.path / "tokenizer.json", manifest.max_length,
                   manifest.pad_token_id, provider, threads, io_binding, model_hash, manifest.truncation,
                   VARIANTS[variant].runtime, manifest.class_names())

    def warm_up(self, token_budget: int, max_rows: int) -> None:
        """Run the largest batches the budget allows once, so onnxruntime's memory arena reaches its
        peak at start-up: peak memory then depends on the batching settings, not on the input."""
        widest = max(1, min(max_rows, token_budget // self.max_length))
        narrow = int(min(self.max_length, self.padded_width(max(1, token_budget // max_rows))))
        for rows, width in ((widest, self.max_length), (max(1, min(max_rows, token_budget // narrow)), narrow)):
            self.run(self.pad([[self.pad_id + 1] * width] * rows))

    def padded_width(self, length: int | np.ndarray) -> int | np.ndarray:
        """The width a batch whose longest row has LENGTH tokens is padded to (elementwise for an array):
        rounded up to the runtime's WIDTH_MULTIPLE, never past max_length unless LENGTH is."""
        rounded = -(-length // self.width_multiple) * self.width_multiple
        return np.minimum(rounded, np.maximum(length, self.max_length))

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, cut to the model's max length as it was trained (sentiscore.tokens)."""
        return self.encoder.encode(texts)

    def pad(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        """The session's inputs for one batch, padded to its longest sequence's padded width."""
        feeds = pad_batch(ids, self.pad_id, int(self.padded_width(max(len(x) for x in ids))))
        return {name: feeds[name] for name in self.input_names}

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (float32, rows x classes) of one padded batch."""
        if self.io_binding:
            binding = self.session.io_binding()
            for name, array in feeds.items():
                binding.bind_cpu_input(name, array)
            binding.bind_output(self.output_name, "cuda" if self.provider == "cuda" else "cpu")
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0].astype(np.float32, copy=False)
        if self.runtime == "openvino":
            return self.session.run(feeds).astype(np.float32, copy=False)
        return self.session.run(None, feeds)[0].astype(np.float32, copy=False)
