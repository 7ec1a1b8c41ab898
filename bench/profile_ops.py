"""Where a model's time goes, by onnxruntime operator type, with the scorer's CPU session settings.

    python -m bench.profile_ops RUN/onnx/model.int8.onnx --rows 32 --tokens 128

Prints ms per batch, rows/s and each operator type's share of the kernel time (onnxruntime's own
profiler). The SkipLayerNormalization finding in bench/README.md came from it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

import onnxruntime as ort

from sentiscore.onnx_model import CPU_DISABLED_OPTIMIZERS, pad_batch, physical_cores, session_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an .onnx file")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--fuse-skip-layer-norm", action="store_true", help="let onnxruntime fuse it at load")
    args = parser.parse_args()
    options = session_options(args.threads)
    options.enable_profiling = True
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"],
                                   disabled_optimizers=None if args.fuse_skip_layer_norm else CPU_DISABLED_OPTIMIZERS)
    feeds = pad_batch([[2000] * args.tokens] * args.rows, 0)
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    for _ in range(3):
        session.run(None, feeds)
    started = time.perf_counter()
    for _ in range(5):
        session.run(None, feeds)
    seconds = (time.perf_counter() - started) / 5
    trace = session.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    by_op = Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"]
    total = sum(by_op.values())
    print(f"{args.model} {args.rows}x{args.tokens}: {seconds * 1000:.1f} ms/batch, {args.rows / seconds:.0f} rows/s")
    for op, micros in by_op.most_common(10):
        print(f"  {op:28s} {100 * micros / total:5.1f}%")


if __name__ == "__main__":
    main()
