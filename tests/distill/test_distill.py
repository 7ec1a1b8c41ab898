"""The distill stage: the student's initialisation, its loss, and a real distillation of the tiny run."""

import json

import numpy as np
import pandas as pd
import pytest

from sentiscore.distill.student import kept_layers, spread_layers, student_from_teacher
from sentiscore.distill.train import NO_LABEL, kd_loss
from sentiscore.errors import BadInput


def test_spread_layers_is_distilberts_choice():
    assert spread_layers(12, 6) == [0, 2, 4, 7, 9, 11]  # DistilBERT's own
    assert spread_layers(6, 3) == [0, 2, 5]
    assert spread_layers(6, 2) == [0, 5]
    assert spread_layers(2, 1) == [0]
    assert kept_layers(6, 2, "bottom") == [0, 1] and kept_layers(6, 2, "spread") == [0, 5]


def test_the_student_starts_as_the_teachers_layers(tiny_model):
    import torch
    from transformers import AutoModelForSequenceClassification

    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_model).state_dict()
    student = student_from_teacher(tiny_model, 1)
    assert student.kept == [0] and student.teacher_layers == 2
    assert student.model.config.num_hidden_layers == 1
    weights = student.model.state_dict()
    for key, value in weights.items():  # embeddings, layer 0, pooler and head: the teacher's own
        assert torch.equal(value, teacher[key]), key
    assert not any(".layer.1." in key for key in weights)
    assert student.teacher_parameters > sum(p.numel() for p in student.model.parameters())
    with pytest.raises(BadInput, match="--layers 2: must be in"):
        student_from_teacher(tiny_model, 2)


def test_kd_loss():
    import torch

    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3]])
    labels = torch.tensor([0, NO_LABEL])
    assert float(kd_loss(logits, logits, labels, 2.0, 1.0)) == pytest.approx(0.0, abs=1e-6)  # KL to itself
    # alpha 0: cross-entropy over the labelled row only
    expected = float(torch.nn.functional.cross_entropy(logits[:1], labels[:1]))
    assert float(kd_loss(logits, logits, labels, 2.0, 0.0)) == pytest.approx(expected)
    assert float(kd_loss(logits, -logits, labels, 2.0, 1.0)) > 0.1  # far from the teacher: a real loss


def test_a_distilled_run(distilled, exported):
    from transformers import AutoConfig

    from sentiscore.onnx_model import OnnxModel
    from sentiscore.runs import RunFolder
    from sentiscore.score.predict import scorer_logits

    for name in ("checkpoint/model.safetensors", "metrics.json", "loss.png", "confusion.png", "report.md",
                 "recipe.toml", "distill.toml", "splits.parquet", "teacher_logits.parquet", "onnx/manifest.json"):
        assert (distilled / name).is_file(), name
    assert not list((distilled / "checkpoint").glob("*.bin"))  # safetensors only
    assert AutoConfig.from_pretrained(distilled / "checkpoint").num_hidden_layers == 1
    # the teacher's splits, so export, parity and `score --split` see the teacher's rows
    pd.testing.assert_frame_equal(pd.read_parquet(distilled / "splits.parquet"),
                                  pd.read_parquet(exported / "splits.parquet"))
    metrics = json.loads((distilled / "metrics.json").read_text())
    d = metrics["distillation"]
    assert d["layers"] == 1 and d["kept"] == [0] and d["rows"]["unlabeled"] == 300 and d["rows"]["sentences"] == 40
    history = [h["eval_agreement"] for h in metrics["loss_history"] if "eval_agreement" in h]
    assert history[-1] > history[0], history  # training moved the student towards the teacher
    assert d["agreement"]["test"] >= 0.8
    assert "## Distillation" in (distilled / "report.md").read_text()

    kept = pd.read_parquet(distilled / "teacher_logits.parquet")
    assert kept.groupby("role").size().to_dict() == {"train": d["rows"]["labelled"], "unlabeled": 300,
                                                     "sentences": 40, "validation": metrics["rows"]["validation"],
                                                     "test": metrics["rows"]["test"]}
    assert kept.loc[kept["role"].isin(["unlabeled", "sentences"]), "label"].isna().all()
    # the kept logits are the teacher's fp32 ONNX model's, through the scorer: the same margins
    test_rows = RunFolder(exported).rows("test").head(40)
    test_ids, texts = test_rows["id"].tolist(), test_rows["text"].tolist()
    ours, _ = scorer_logits(OnnxModel.load(exported / "onnx", "fp32"), texts)
    margin = ours[:, 1] - ours[:, 0]
    test_kept = kept[kept["role"] == "test"].set_index("id").loc[test_ids]
    recorded = (test_kept["teacher_logit_positive"] - test_kept["teacher_logit_negative"]).to_numpy()
    close = np.abs(margin) < 10  # beyond, float32 probabilities saturate (PROB_CLIP)
    np.testing.assert_allclose(recorded[close], margin[close], atol=2e-3)


def test_distill_refuses_bad_input(cli, exported, trained_run, tmp_path):
    code, _, err = cli("distill", exported, "--layers", "5", "--output", tmp_path / "s")
    assert code == 2 and len(err) == 1 and "--layers 5" in err[0]
    code, _, err = cli("distill", trained_run, "--output", tmp_path / "s")  # never exported
    assert code == 2 and len(err) == 1 and "export" in err[0]
    code, _, err = cli("distill", exported, "--temperature", "0", "--output", tmp_path / "s")
    assert code == 2 and len(err) == 1 and "--temperature must be > 0" in err[0]
    # the distill recipe's unlabelled files are local copies: without --data-dir, one line says which flag
    code, _, err = cli("distill", exported, "--layers", "1", "--output", tmp_path / "s")
    assert code == 2 and len(err) == 1 and "--unlabeled imdb_reviews.parquet: not found" in err[0] \
        and "--data-dir" in err[0], err
    assert not (tmp_path / "s").exists()


def test_augmented_variants_are_seeded_new_and_in_the_texts_words():
    from sentiscore.distill.augment import augmented

    texts = ["the battery lasts for two full days of heavy use", "the screen is dim and the speaker crackles"]
    variants = augmented(texts, 8, "[MASK]", seed=3)
    assert variants == augmented(texts, 8, "[MASK]", seed=3)  # a run repeats
    assert variants != augmented(texts, 8, "[MASK]", seed=4)
    assert len(variants) == len(set(variants)) and not set(variants) & set(texts)
    words = {w for t in texts for w in t.split()} | {"[MASK]"}
    assert all(set(v.split()) <= words for v in variants)
    assert any("[MASK]" in v for v in variants) and any(len(v.split()) <= 5 for v in variants)


def test_sentences_are_a_seeded_sample_of_the_texts_own_statements():
    from sentiscore.distill.augment import SENTENCE_WORDS, sentences

    texts = ["Loved it. The plot moves fast and the cast is great! Would I watch it again? Yes, twice over.",
             "The sound is muddy and the dialogue is hard to follow.",  # one sentence: it is a row already
             "Too long. Far too long for a story this thin, and the ending drags on and on."]
    # "Loved it." and "Yes, twice over." are under SENTENCE_WORDS; the one-sentence text is a row already
    assert SENTENCE_WORDS[0] == 5
    assert sorted(sentences(texts, 100, seed=0)) == [
        "Far too long for a story this thin, and the ending drags on and on.",
        "The plot moves fast and the cast is great!", "Would I watch it again?"]
    two = sentences(texts, 2, seed=0)
    assert len(two) == 2 and two == sentences(texts, 2, seed=0)  # a run repeats
    assert len({tuple(sentences(texts, 2, seed=s)) for s in range(10)}) > 1  # and the seed decides the sample
