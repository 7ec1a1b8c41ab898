"""The CPU's int8-relevant instruction sets: int8 results differ with them (VNNI, AMX or neither round
differently), so the export records the exporting machine's and every scoring run reports its own."""

from __future__ import annotations

import platform
from pathlib import Path

# What onnxruntime's and OpenVINO's int8 kernels choose between on x86 (AVX2 alone: u8 x s8 pairs summed
# in 16 bits, which can saturate; VNNI: one instruction, 32-bit sums; AMX: tiles); NEON/dot-product on Arm.
INT8_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile",
              "amx_int8", "asimd", "asimddp", "i8mm")


def int8_features(cpuinfo: str | None = None) -> dict:
    """{"machine", "model", "int8_flags"} of this CPU (CPUINFO: /proc/cpuinfo's text, read when None).
    Where /proc/cpuinfo is missing (not Linux), the flags are an empty list."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {"machine": platform.machine(), "model": fields.get("model name", ""),
            "int8_flags": [f for f in INT8_FLAGS if f in flags]}


def differences(reference: dict, other: dict) -> list[str]:
    """The int8 flags one side has and the other lacks, as '+flag' (OTHER has it) and '-flag'."""
    ours, theirs = set(reference.get("int8_flags", [])), set(other.get("int8_flags", []))
    return [f"+{f}" for f in INT8_FLAGS if f in theirs - ours] + [f"-{f}" for f in INT8_FLAGS if f in ours - theirs]
