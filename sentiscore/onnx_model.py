"""One class owns the onnxruntime session (providers, threads, graph level) and the tokenizer.

Shared by the parity gate (export) and the scorer (score), so both see a model the same way.
Imports neither torch nor transformers: a scoring host needs onnxruntime, tokenizers and numpy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiscore.errors import BadInput
from sentiscore.manifest import VARIANT_FILES, Manifest
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
    import onnxruntime as ort

    return _ORT_PROVIDER["cuda"] in ort.get_available_providers()


def require_cuda() -> None:
    """`--provider cuda` without onnxruntime's CUDA provider is bad input, said in one line."""
    if not cuda_available():
        raise BadInput("--provider cuda: onnxruntime has no CUDAExecutionProvider here "
                       "(install onnxruntime-gpu on a host with an NVIDIA GPU)")


def resolve_variant(manifest: Manifest, provider: str, precision: str | None) -> tuple[str, str]:
    """(provider, variant): auto takes CUDA with its default variant (fp16) where onnxruntime-gpu and a
    GPU are present, else the CPU with its default (int8, or fp32 where int8 failed the gate)."""
    if provider not in PROVIDERS:
        raise BadInput(f"--provider {provider}: use {', '.join(PROVIDERS)}")
    if provider == "auto":
        provider = "cuda" if cuda_available() else "cpu"
    if provider == "cuda":
        require_cuda()
    variant = precision or (manifest.default_cuda_variant if provider == "cuda" else manifest.default_cpu_variant)
    if provider == "cpu" and variant == "fp16":
        raise BadInput("--precision fp16: the fp16 variant is for CUDA (on the CPU onnxruntime runs it slower than "
                       "fp32); use int8 or fp32, or --provider cuda")
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


def pad_batch(ids: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """BERT inputs (int64) for one batch, padded to its longest sequence."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


@dataclass
class OnnxModel:
    """An ONNX model file ready to run: `encode` texts, `pad` a batch of ids, `run` it.

    `OnnxModel.load` opens a variant of an export folder after checking its files against the
    manifest; the plain constructor takes a model file as it is (the export stage's candidates).
    After creating the session it checks which provider onnxruntime really gave it.
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
    session: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort

        if self.provider == "cuda":
            require_cuda()
        providers = [_ORT_PROVIDER["cuda"], _ORT_PROVIDER["cpu"]] if self.provider == "cuda" else [_ORT_PROVIDER["cpu"]]
        self.encoder = Encoder.from_file(self.tokenizer_file, self.max_length, self.truncation)
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
        if variant not in VARIANT_FILES:
            raise BadInput(f"--precision {variant}: unknown (use {', '.join(VARIANT_FILES)})")
        manifest = folder.manifest()
        model_hash = manifest.variant_hash(variant)
        if verify:
            manifest.verify(folder.path, [VARIANT_FILES[variant], "tokenizer.json", "config.json"])
        return cls(folder.variant_file(variant), folder.path / "tokenizer.json", manifest.max_length,
                   manifest.pad_token_id, provider, threads, io_binding, model_hash, manifest.truncation)

    def warm_up(self, token_budget: int, max_rows: int) -> None:
        """Run the largest batches the budget allows once, so onnxruntime's memory arena reaches its
        peak at start-up: peak memory then depends on the batching settings, not on the input."""
        widest = max(1, min(max_rows, token_budget // self.max_length))
        for rows, width in ((widest, self.max_length), (max_rows, max(1, token_budget // max_rows))):
            self.run(self.pad([[self.pad_id + 1] * min(width, self.max_length)] * rows))

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, cut to the model's max length as it was trained (sentiscore.tokens)."""
        return self.encoder.encode(texts)

    def pad(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        """The session's inputs for one batch, padded to its longest sequence."""
        feeds = pad_batch(ids, self.pad_id)
        return {name: feeds[name] for name in self.input_names}

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (float32, rows x 2) of one padded batch."""
        if self.io_binding:
            binding = self.session.io_binding()
            for name, array in feeds.items():
                binding.bind_cpu_input(name, array)
            binding.bind_output(self.output_name, "cuda" if self.provider == "cuda" else "cpu")
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0].astype(np.float32, copy=False)
        return self.session.run(None, feeds)[0].astype(np.float32, copy=False)

    def logits(self, texts: list[str], batch_rows: int = 64) -> np.ndarray:
        """Logits of TEXTS in input order, in batches of BATCH_ROWS rows (the parity gate's way)."""
        ids = self.encode(texts)
        return np.concatenate([self.run(self.pad(ids[i:i + batch_rows])) for i in range(0, len(ids), batch_rows)])
