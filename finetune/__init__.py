"""The finetune stage: fine-tune a BERT-family encoder for binary review sentiment."""
