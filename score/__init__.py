"""The score stage: stream reviews through onnxruntime, resumably, in constant memory. Never imports torch."""
