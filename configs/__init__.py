"""Recipes (package data): configs/NAME.toml, read by `sentiscore finetune --recipe NAME`."""
