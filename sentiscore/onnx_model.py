"""One class owns the onnxruntime session (providers, threads, graph level) and the tokenizer.

Shared by the parity gate (export/) and the scorer (score/), so both see the model the same way.
Imports neither torch nor transformers: a scoring host needs onnxruntime, tokenizers and numpy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiscore import manifest as manifest_io
from sentiscore.errors import BadInput

VARIANT_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx", "fp16": "model.fp16.onnx"}
# On the CPU, onnxruntime would fuse the exported Add + LayerNormalization back into its
# SkipLayerNormalization kernel at load, 6x slower here (bench/README.md: 204 -> 256 reviews/s without it)
CPU_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def physical_cores() -> int:
    """Cores this process may use; onnxruntime runs best with one thread per core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def export_folder(model: str | Path) -> Path:
    """MODEL may be an export folder (RUN/onnx) or a run folder holding one."""
    path = Path(model)
    if (path / "onnx" / manifest_io.MANIFEST).is_file():
        return path / "onnx"
    if (path / manifest_io.MANIFEST).is_file():
        return path
    if not path.exists():
        raise BadInput(f"{path}: no such model folder")
    raise BadInput(f"{path}: not an export folder (no {manifest_io.MANIFEST}; run `sentiscore export RUN_DIR`)")


def cuda_available() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def variant_hash(folder: Path, variant: str, manifest: dict, verify: bool = True) -> str:
    """The variant's sha256 from the manifest, after checking its files against it (with `verify`)."""
    file_name = VARIANT_FILES[variant]
    if file_name not in manifest["files"]:
        raise BadInput(f"{folder}: no {variant} variant (exported: {', '.join(manifest['variants'])})")
    if verify:
        manifest_io.verify(folder, [file_name, "tokenizer.json", "config.json"])
    return manifest["files"][file_name]["sha256"]


def require_cuda() -> None:
    """`--provider cuda` without onnxruntime's CUDA provider is bad input, said in one line."""
    if not cuda_available():
        raise BadInput("--provider cuda: onnxruntime has no CUDAExecutionProvider here "
                       "(install onnxruntime-gpu on a host with an NVIDIA GPU)")


def session_options(threads: int | None = None):
    """The session settings every run uses: one thread per core, full graph optimisation, sequential."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def load_tokenizer(folder: Path, max_length: int):
    """The fast `tokenizers` tokenizer with truncation at the model's max length, padding off."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


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
    """An exported variant, ready to run: `encode` texts, `pad` a batch of ids, `run` it."""

    folder: Path
    variant: str = "int8"
    provider: str = "cpu"
    threads: int | None = None
    verify: bool = True
    io_binding: bool | None = None  # None: on CUDA only, where it saves a copy of the outputs per batch
    manifest: dict = field(init=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort

        self.folder = export_folder(self.folder)
        file_name = VARIANT_FILES.get(self.variant)
        if file_name is None:
            raise BadInput(f"--precision {self.variant}: unknown (use {', '.join(VARIANT_FILES)})")
        self.manifest = manifest_io.read_manifest(self.folder)
        self.model_hash = variant_hash(self.folder, self.variant, self.manifest, self.verify)
        self.max_length = int(self.manifest["max_length"])
        self.pad_id = int(self.manifest.get("pad_token_id", 0))
        self.tokenizer = load_tokenizer(self.folder, self.max_length)
        options = session_options(self.threads)
        if self.provider == "cuda":
            require_cuda()
            providers = [("CUDAExecutionProvider", {}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(self.folder / file_name), options, providers=providers,
                                            disabled_optimizers=CPU_DISABLED_OPTIMIZERS if self.provider == "cpu"
                                            else None)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        if self.io_binding is None:
            self.io_binding = self.provider == "cuda"

    def warm_up(self, token_budget: int, max_rows: int) -> None:
        """Run the largest batches the budget allows once, so onnxruntime's memory arena reaches its
        peak at start-up: peak memory then depends on the batching settings, not on the input."""
        widest = max(1, min(max_rows, token_budget // self.max_length))
        for rows, width in ((widest, self.max_length), (max_rows, max(1, token_budget // max_rows))):
            self.run(self.pad([[self.pad_id + 1] * min(width, self.max_length)] * rows))

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated at the model's max length."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]

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

