"""sentiscore: fine-tune, export and batch-score a BERT sentiment classifier.

The shared core: CLI, recipes, data sources, labels, metrics, plots and atomic writes.
Nothing here imports a stage (finetune/, export/, score/) at import time.
"""

__version__ = "0.1.0"
