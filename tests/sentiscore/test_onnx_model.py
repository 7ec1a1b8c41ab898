"""What loading a model costs beyond the model: no onnxruntime import where it has no CUDA to find, no
usage telemetry from OpenVINO."""

import os
import subprocess
import sys

from tests.conftest import REPO

# the variables openvino-telemetry reads as "a CI job: send nothing"
CI_VARIABLES = ("CI", "TF_BUILD", "JENKINS_URL")


def python(code: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**base, **env})


def fake_onnxruntime(folder, cuda: bool) -> str:
    """A package named onnxruntime that fails when imported, or (CUDA) has the CUDA provider's library."""
    package = folder / "onnxruntime"
    (package / "capi").mkdir(parents=True)
    if cuda:
        (package / "capi" / "libonnxruntime_providers_cuda.so").touch()
        (package / "__init__.py").write_text("def get_available_providers():\n"
                                             "    return ['CUDAExecutionProvider', 'CPUExecutionProvider']\n")
    else:
        (package / "__init__.py").write_text("raise ImportError('imported')\n")
    return f"{folder}{os.pathsep}{REPO}"


def test_cuda_is_looked_for_only_where_onnxruntime_has_its_cuda_library(tmp_path):
    code = "import sys; from sentiscore.onnx_model import cuda_available; print(cuda_available())"
    without = python(code, {"PYTHONPATH": fake_onnxruntime(tmp_path / "cpu", cuda=False)})
    assert without.returncode == 0 and without.stdout.split() == ["False"], without.stderr[-2000:]
    with_cuda = python(code, {"PYTHONPATH": fake_onnxruntime(tmp_path / "gpu", cuda=True)})
    assert with_cuda.returncode == 0 and with_cuda.stdout.split() == ["True"], with_cuda.stderr[-2000:]


def test_openvino_is_imported_without_its_telemetry(tmp_path):
    """openvino-telemetry writes a client id under ~/intel when it means to send (the send itself goes to
    a forked process); a plain import does, sentiscore's does not, and leaves CI as it was."""
    for home in ("plain", "ours"):
        (tmp_path / home).mkdir()
    plain = python("import openvino", {"HOME": str(tmp_path / "plain")})
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert (tmp_path / "plain" / "intel" / "openvino_ga_cid").is_file()  # the behaviour worked around

    code = ("import os; from sentiscore.onnx_model import openvino_telemetry_off\n"
            "with openvino_telemetry_off():\n    import openvino\n"
            "assert 'CI' not in os.environ; print('ok')")
    ours = python(code, {"HOME": str(tmp_path / "ours")})
    assert ours.returncode == 0 and ours.stdout.split() == ["ok"], ours.stderr[-2000:]
    assert not (tmp_path / "ours" / "intel").exists()
