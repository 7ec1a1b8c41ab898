"""sentiscore: fine-tune, export and batch-score a BERT sentiment classifier.

The shared core: the CLI, recipes, the one reader of every stage, splits, run and export folders,
the onnxruntime session owner, metrics, plots, logging and atomic writes. The stages install as
`sentiscore.finetune`, `sentiscore.export` and `sentiscore.score`; nothing here imports them at
import time.
"""

__version__ = "0.1.0"
