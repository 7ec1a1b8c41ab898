"""The export stage (`sentiscore.export`): Optimum ONNX export, graph optimisation, int8 and fp16
variants, manifest, and the parity gate. Entry points: `export(run, options) -> ExportResult` and
`parity(run, data, split) -> ParityReport`."""

from sentiscore.export.stage import ExportOptions, ExportResult, export, parity

__all__ = ["ExportOptions", "ExportResult", "export", "parity"]
