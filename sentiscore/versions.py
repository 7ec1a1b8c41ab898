"""Versions of the packages a run depends on, recorded beside every output."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = (
    "sentiscore", "torch", "transformers", "optimum", "optimum-onnx", "onnxruntime", "onnxruntime-gpu",
    "onnx", "datasets", "huggingface-hub", "tokenizers", "scikit-learn", "pandas", "pyarrow", "numpy",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the stack (missing packages are left out), plus Python's."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
