"""The finetune stage (`sentiscore.finetune`): fine-tune a BERT-family encoder for binary review
sentiment and write a run folder. Entry point: `finetune(recipe, output) -> FinetuneResult`."""

from sentiscore.finetune.stage import FinetuneResult, finetune

__all__ = ["FinetuneResult", "finetune"]
