"""The export stage: Optimum ONNX export, graph optimisation, int8 and fp16 variants, parity gate."""
