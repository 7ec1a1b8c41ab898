"""The int8 remedy path, deterministically: a model built so that the first int8 recipes fail the gate
and a later one passes.

One word-embedding entry of a token the tokenizer never produces ([unused0]) is set to 500: PyTorch
and fp32 ONNX are unchanged (LayerNorm works per token), but quantising the embedding table to int8
with one scale for it makes that scale about 4, and every real embedding (|x| <= 1) rounds to zero.
The gate allows a 5-point drop here: the wrecked recipes lose about 37 points and the remedy loses
what int8 rounding loses on 244 rows (0 to 2 rows), so neither verdict hangs on one flipped row.
"""

import functools
import logging
import shutil

from safetensors.torch import load_file, save_file

from sentiscore.export import ExportOptions, export, stage
from sentiscore.export.gate import Thresholds
from sentiscore.export.quantize import INT8_RECIPES, choose_int8
from sentiscore.runs import RunFolder

UNUSED_TOKEN = 1  # [unused0] in the BERT uncased vocabulary
LIMITS = Thresholds(max_acc_drop_pp=5.0)


def wrecked_run(trained_run, tmp_path) -> RunFolder:
    """A copy of the tiny run with the one outsized embedding entry."""
    run = RunFolder(tmp_path / "run")
    shutil.copytree(trained_run, run.path)
    weights_file = run.checkpoint / "model.safetensors"
    weights = load_file(weights_file)
    embeddings = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[embeddings][UNUSED_TOKEN, 0] = 500.0
    save_file(weights, weights_file, metadata={"format": "pt"})
    return run


def test_first_recipes_fail_then_embeddings_kept_fp32_pass(trained_run, tmp_path):
    result = export(wrecked_run(trained_run, tmp_path), ExportOptions(static=False, limits=LIMITS))

    attempts = result.parity.int8_attempts
    assert [a.recipe for a in attempts] == [r.name for r in INT8_RECIPES]
    assert [a.passed for a in attempts] == [False, False, True]
    assert attempts[0].accuracy_diff < -0.15 and attempts[1].accuracy_diff < -0.15  # wrecked, not rounded
    assert result.manifest.int8_recipe == INT8_RECIPES[2].name and "int8" in result.manifest.variants
    assert result.parity.passed and result.parity.variants["fp32"].label_agreement == 1.0
    assert result.parity.to_dict()["int8_failed_every_recipe"] is False


def test_every_recipe_failing_warns_and_names_the_variant_that_runs(trained_run, tmp_path, monkeypatch, caplog):
    # only the two recipes the outsized entry wrecks: dynamic int8 fails with every recipe tried
    monkeypatch.setattr(stage, "choose_int8", functools.partial(choose_int8, recipes=INT8_RECIPES[:2]))
    with caplog.at_level(logging.INFO, logger="sentiscore"):
        result = export(wrecked_run(trained_run, tmp_path), ExportOptions(static=False, limits=LIMITS))

    assert result.parity.int8_failed_every_recipe and "int8" not in result.manifest.variants
    [warning] = [r for r in caplog.records if r.getMessage() == "int8.dropped"]
    assert warning.levelno == logging.WARNING
    assert warning.fields["recipes"] == ", ".join(r.name for r in INT8_RECIPES[:2])
    # the variant named is the one the manifest makes the default, not a fixed "fp32"
    assert warning.fields["reason"].endswith(f"the default CPU variant is {result.manifest.default_cpu_variant}")
    assert result.manifest.default_cpu_variant == result.manifest.cpu_order[0] == "fp32"
