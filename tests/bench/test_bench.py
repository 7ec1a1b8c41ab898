"""The benchmark's own pieces: work per review, the review-length set, padding counts, and that
every contender scores the same task (their labels agree with `sentiscore score` fp32)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from bench import contenders as contenders_module
from bench import models, roofline, texts
from bench import run as bench_run
from tests.conftest import rotten_tomatoes_file

MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536}
BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3072}


def test_ops_per_review_match_the_known_counts():
    assert roofline.ops_per_review(MINILM, 128) / 1e9 == pytest.approx(2.87, abs=0.01)
    assert roofline.ops_per_review(BERT_BASE, 128) / 1e9 == pytest.approx(22.35, abs=0.01)
    # attention's share grows with length: twice the tokens is more than twice the work
    assert roofline.ops_per_review(MINILM, 256) > 2 * roofline.ops_per_review(MINILM, 128)


def test_review_set_is_real_reviews_cut_to_product_review_lengths(tmp_path):
    review = pd.read_parquet(texts.build("review", 2000, tmp_path))
    long = pd.read_parquet(texts.build("long", 2000, tmp_path))
    imdb = pd.read_parquet(texts.SHARED / "imdb_reviews.parquet").set_index("id")
    words = review["text"].str.split().str.len()
    assert 72 <= words.mean() <= 88
    assert words.quantile(0.95) > 2 * words.median()  # a long tail
    assert not set(review["id"]) & set(long["id"])
    assert review["id"].is_unique and len(review) == 2000
    for row in review.itertuples():
        source = imdb.loc[row.id]
        assert source["text"].split()[:len(row.text.split())] == row.text.split()
        assert source["label"] == row.label


def test_pipeline_padding_is_per_batch_of_32_in_input_order():
    lengths = np.array([10] * 31 + [100] + [7])
    assert bench_run.pipeline_padded_tokens(lengths) == 32 * 100 + 7


def test_every_contender_labels_like_the_scorer(exported, tmp_path):
    data = rotten_tomatoes_file(300, tmp_path)
    reference = bench_run.score(exported / "onnx", data, "--precision", "fp32")["predictions"]
    optimum_dir = models.optimum_exports(exported / "checkpoint", tmp_path / "optimum")
    models.optimum_intel_export(exported / "checkpoint", tmp_path / "optimum-intel", exported / "onnx")
    contenders = [n for n in bench_run.CONTENDERS
                  if n != "sentiscore fp32" and bench_run.available(n, exported / "onnx")]
    assert {"sentiscore auto", "sentiscore int8", "optimum-intel int8"} <= set(contenders)
    # the scorer's variants and Optimum's int8 each in a process of their own, as the bench runs them (two
    # at a time); the other peers in this process: a process of their own spends 13-20 s importing
    # transformers and optimum on a slow host, and labels, not speed, are what this test checks
    in_process = {"transformers pipeline", "optimum fp32", "optimum-intel int8"}
    elsewhere = [n for n in contenders if n not in in_process]
    with ThreadPoolExecutor(max_workers=2) as pool:
        processes = dict(zip(elsewhere, pool.map(lambda name: bench_run.run_contender(
            name, exported / "onnx", optimum_dir, exported / "checkpoint", data), elsewhere), strict=True))
    texts = pd.read_parquet(data)["text"].tolist()

    def predicted_here(name: str) -> dict:
        kind, model_dir, onnx_file = bench_run.peer_model(name, optimum_dir, exported / "checkpoint")
        return contenders_module.predict(kind, str(model_dir), texts, onnx_file)

    here = {name: predicted_here(name) for name in contenders if name in in_process}
    assert "optimum int8" in processes and set(here) == in_process
    for name in contenders:
        result = processes.get(name) or here[name]
        if name.startswith("sentiscore ") and name != "sentiscore auto":
            assert result["variant"] == name.split()[1]  # the variant named, not the fastest of its precision
        agreement = (np.asarray(result["predictions"]) == reference).mean()
        # fp32 contenders compute the same logits; int8 ones (the default among them) round, so a few labels flip
        assert agreement >= (0.99 if name in ("transformers pipeline", "optimum fp32") else 0.9), name


def test_recipes_compares_runs_on_the_first_runs_test_rows(exported):
    from bench import recipes
    from sentiscore.runs import RunFolder

    run = RunFolder(exported)
    results = recipes.compare([run, run])
    assert results["sources"]["bundled"]["rows"] == len(run.split_ids("test"))
    assert results["sources"]["bundled"]["cut_rows"] > 0  # max length 64: some sentences are longer
    first, second = results["runs"]
    assert first["by_source"] == second["by_source"]
    assert results["only_first_right"] == results["only_second_right"] == 0
    pytorch = run.metrics().finetuned["test"].accuracy
    assert abs(first["by_source"]["bundled"]["accuracy"] - pytorch) < 0.01  # fp32 computes what PyTorch does
    assert "| bundled (" in recipes.markdown(results)


def test_variants_side_by_side_cover_every_cpu_variant_of_the_export(exported, tmp_path):
    from bench import variants
    from sentiscore.manifest import Manifest

    table = variants.compare(exported / "onnx", rows=20, rounds=1, work=tmp_path)
    order = Manifest.read(exported / "onnx").cpu_variants()
    assert [(r["texts"], r["variant"]) for r in table] == [(s, v) for s in texts.SETS for v in order]
    assert all(r["agreement_with_fp32"] == 1.0 for r in table if r["variant"] == "fp32")
    assert all(r["reviews_per_s"] > 0 and r["export_order"] == order.index(r["variant"]) + 1 for r in table)
