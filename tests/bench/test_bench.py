"""The benchmark's own pieces: work per review, the review-length set, padding counts, and that
every contender scores the same task (their labels agree with `sentiscore score` fp32)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import contenders as contenders_module
from bench import models, roofline, texts
from bench import run as bench_run
from sentiscore.export.quantize import INT8_RECIPES
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


def test_each_run_is_held_to_the_int8_limit_of_the_runtime_it_ran_on():
    limits = {"int8_gops": 500.0, "openvino_int8_gops": 300.0}
    # the default path is held to the limit of whichever variant its summary says ran
    assert bench_run.int8_limit("sentiscore auto", "openvino-int8", limits) == 300.0
    assert bench_run.int8_limit("sentiscore auto", "int8", limits) == 500.0
    assert bench_run.int8_limit("sentiscore int8-static", "int8-static", limits) == 500.0
    assert bench_run.int8_limit("optimum-intel int8", None, limits) == 300.0
    assert bench_run.int8_limit("optimum int8", None, limits) == 500.0


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
    measured = order + ([] if "int8" in order else ["int8"])  # today's int8, the baseline, even where dropped
    assert [(r["texts"], r["variant"]) for r in table] == [(s, v) for s in texts.SETS for v in measured]
    assert all(r["agreement_with_fp32"] == 1.0 and r["accuracy_vs_fp32_pp"] == 0 for r in table
               if r["variant"] == "fp32")
    assert all(r["x_int8"] == 1.0 for r in table if r["variant"] == "int8")
    assert all(r["reviews_per_s"] > 0 and 0 <= r["accuracy"] <= 1 for r in table)
    assert all(r["export_order"] == (order.index(r["variant"]) + 1 if r["variant"] in order else None) for r in table)


def test_accuracy_against_fp32_counts_changed_labels_and_their_standard_error():
    from bench import accuracy

    gold = np.array([1, 1, 0, 0] * 25)
    fp32 = gold.copy()
    fp32[:10] = 1 - fp32[:10]  # fp32: 90% right
    int8 = fp32.copy()
    int8[10:14] = 1 - int8[10:14]  # 4 more wrong: -4 points, 4 labels changed
    measured = accuracy.against_fp32({"fp32": fp32, "int8": int8}, gold)
    assert measured["fp32"] == {"accuracy": 0.9, "accuracy_vs_fp32_pp": 0.0, "standard_error_pp": 0.0,
                                "agreement_with_fp32": 1.0}
    assert measured["int8"] == {"accuracy": 0.86, "accuracy_vs_fp32_pp": -4.0, "standard_error_pp": 2.0,
                                "agreement_with_fp32": 0.96}


def test_the_distillation_goals_read_each_contenders_ratio_and_points():
    from bench import distill

    sets = ("amazon test", "short", "review", "long")
    # (x teacher, points vs the teacher) per contender: the student meets its speed goal by a hair and misses
    # its accuracy goal; the cascade keeps the accuracy everywhere but one set and misses its speed goal
    given = {"teacher": (1.0, 0.0), "student": (2.5, -2.01), "cascade": (1.99, -0.5)}
    table = [{"texts": name, "contender": who, "x_teacher": x, "accuracy_vs_teacher_points": points}
             for name in sets for who, (x, points) in given.items()]
    next(t for t in table if t["contender"] == "cascade" and t["texts"] == "long")["accuracy_vs_teacher_points"] = -0.6
    met = {g["goal"]: g["met"] for g in distill.goals(table)}
    assert met == {"review: student / teacher, reviews/s": True, "review: cascade / teacher, reviews/s": False,
                   "amazon test: student accuracy vs the teacher's": False,
                   **{f"{name}: cascade accuracy vs the teacher's": name != "long" for name in sets}}


def test_a_base_teachers_goals_hold_the_student_to_3_5x_and_the_cascade_to_its_agreement():
    from bench import distill

    sets = ("amazon test", "short", "review", "long")
    given = {"teacher": (1.0, 0.0, 1.0), "student": (3.5, -2.0, 0.9), "cascade": (2.49, -0.2, 0.985)}
    table = [{"texts": name, "contender": who, "x_teacher": x, "accuracy_vs_teacher_points": points,
              "agreement_with_teacher": agreement}
             for name in sets for who, (x, points, agreement) in given.items()]
    next(t for t in table if t["contender"] == "cascade" and t["texts"] == "short")["agreement_with_teacher"] = 0.984
    met = {g["goal"]: g["met"] for g in distill.goals(table, base_teacher=True)}
    assert met == {"review: student / teacher, reviews/s": True, "review: cascade / teacher, reviews/s": False,
                   **{f"{name}: student accuracy vs the teacher's": True for name in sets},
                   **{f"{name}: cascade label agreement with the teacher": name != "short"
                      for name in ("short", "review", "long")}}


def test_the_accuracy_table_covers_every_variant_and_the_goals_read_it(exported, tmp_path):
    from bench import accuracy
    from sentiscore.manifest import Manifest

    table = accuracy.table(exported / "onnx", rows=30, work=tmp_path)
    order = Manifest.read(exported / "onnx").cpu_variants()
    measured = order + ([] if "int8" in order else ["int8"])
    assert [(r["texts"], r["variant"]) for r in table] == [(s, v) for s in texts.SETS for v in measured]
    assert [r["variant"] for r in table if r["default"]] == [order[0]] * len(texts.SETS)
    assert all(r["rows"] == 30 for r in table)
    goals = bench_run.goals({"speed": [], "memory": {}, "startup": [], "accuracy": table})
    accuracy_goals = [g for g in goals if "accuracy vs fp32" in g["goal"]]
    assert len(accuracy_goals) == len(texts.SETS) * len({order[0], "int8"})
    for goal, row in zip(accuracy_goals, [r for r in table if r["default"] or r["variant"] == "int8"]):
        assert goal["met"] == (abs(row["accuracy_vs_fp32_pp"]) <= bench_run.ACCURACY_GOAL_POINTS)
    assert "| short | 30 |" in bench_run.markdown({"run": "r", "cpu_count": 2, "date": "d", "speed": [],
                                                    "limits": {}, "memory": {}, "startup": [], "engines": {},
                                                    "accuracy": table, "goals": goals})


def without_int8(export: Path, folder: Path) -> Path:
    """A copy of EXPORT as an export whose gate dropped the dynamic int8: no file, not in the manifest."""
    from sentiscore.export.onnx_export import build_manifest
    from sentiscore.manifest import VARIANTS, Manifest
    from sentiscore.runs import ExportFolder

    shutil.copytree(export, folder)
    (folder / VARIANTS["int8"].model_file).unlink(missing_ok=True)
    manifest = Manifest.read(export)
    ExportFolder(folder).write_manifest(build_manifest(
        folder, Path(manifest.source_checkpoint), manifest.graph_optimization, None, manifest.truncation,
        {v: s for v, s in manifest.cpu_speed.items() if v != "int8"}))
    return folder


def test_the_benches_measure_todays_int8_where_the_gate_dropped_it(exported, tmp_path):
    from bench import variants
    from sentiscore.manifest import VARIANTS, Manifest, sha256_file
    from sentiscore.onnx_model import OnnxModel

    dropped = without_int8(exported / "onnx", tmp_path / "dropped")
    assert "int8" not in Manifest.read(dropped).variants
    baseline = models.dynamic_int8_baseline(dropped, tmp_path / "baseline")
    made = Manifest.read(baseline)
    assert made.variants == ["fp32", "int8"] and made.truncation == Manifest.read(dropped).truncation
    # the export's own fp32 graph, quantised by the first int8 recipe (quantize_dynamic is deterministic)
    assert made.files["model.onnx"] == Manifest.read(dropped).files["model.onnx"]
    reference = tmp_path / "int8.onnx"
    INT8_RECIPES[0].quantize(dropped / "model.onnx", reference)
    assert made.files[VARIANTS["int8"].model_file]["sha256"] == sha256_file(reference)
    OnnxModel.load(baseline, "int8")  # its files verify against its manifest
    # bench.variants compares against it; bench.run scores "sentiscore int8" from it, not from the export
    (tmp_path / "work").mkdir()
    table = variants.compare(dropped, rows=10, rounds=1, work=tmp_path / "work")
    assert [r["export_order"] for r in table if r["variant"] == "int8"] == [None] * len(texts.SETS)
    assert bench_run.available("sentiscore int8", dropped)
    optimum_dir = tmp_path / "minilm-optimum"
    assert bench_run.int8_baseline(dropped, optimum_dir) == tmp_path / "minilm-optimum-int8-baseline"
    data = rotten_tomatoes_file(40, tmp_path)
    result = bench_run.run_contender("sentiscore int8", dropped, optimum_dir, exported / "checkpoint", data)
    assert result["variant"] == "int8" and result["rows"] == 40
