"""The one tokenisation: head cuts as transformers does, head+tail keeps a long review's ending."""

import pandas as pd
import pytest
from transformers import AutoTokenizer

from sentiscore.encoders import resolve_model
from sentiscore.recipe import BUNDLED_MINILM
from sentiscore.tokens import CHARS_PER_TOKEN, Encoder, head_tail
from tests.conftest import BUNDLED

LONG = "The opening scene drags on. " * 40 + "But the ending is wonderful, I loved it."


@pytest.fixture(scope="module")
def hf_tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model(BUNDLED_MINILM))


def test_head_tail_keeps_special_tokens_a_quarter_of_the_head_and_the_rest_of_the_tail():
    ids = [101, *range(1000, 1100), 102]
    special = [1] + [0] * 100 + [1]
    cut = head_tail(ids, special, 18)  # 16 of the text's own tokens: 4 from the head, 12 from the tail
    assert cut == [101, *range(1000, 1004), *range(1088, 1100), 102]
    assert head_tail(ids[:10], special[:9] + [1], 18) == ids[:10]  # short enough: unchanged


def test_head_equals_transformers_truncation(hf_tokenizer):
    texts = pd.read_parquet(BUNDLED)["text"].tolist()[:200] + [LONG]
    ours = Encoder.from_pretrained(hf_tokenizer, 32).encode(texts)
    assert ours == hf_tokenizer(texts, truncation=True, max_length=32)["input_ids"]


def test_head_tail_keeps_the_first_and_last_tokens(hf_tokenizer):
    whole = hf_tokenizer(LONG)["input_ids"]
    (cut,) = Encoder.from_pretrained(hf_tokenizer, 64, "head+tail").encode([LONG])
    assert len(cut) == 64 and cut[0] == whole[0] and cut[-1] == whole[-1]
    assert cut[1:16] == whole[1:16] and cut[16:-1] == whole[-48:-1]  # 62 of the text: 15 + 47
    assert hf_tokenizer.decode(cut[-12:-1]).endswith("the ending is wonderful, i loved it.")
    short = "A fine film."
    assert Encoder.from_pretrained(hf_tokenizer, 64, "head+tail").encode([short]) == [hf_tokenizer(short)["input_ids"]]


def test_the_copy_leaves_the_transformers_tokenizer_as_it_was(hf_tokenizer):
    before = hf_tokenizer(LONG)["input_ids"]
    Encoder.from_pretrained(hf_tokenizer, 16, "head")
    assert hf_tokenizer(LONG)["input_ids"] == before and len(before) > 16


@pytest.mark.parametrize("truncation", ["head", "head+tail"])
def test_huge_texts_are_cut_before_tokenising(hf_tokenizer, truncation):
    encoder = Encoder.from_pretrained(hf_tokenizer, 32, truncation)
    seen = []
    encode_batch = encoder.tokenizer.encode_batch

    class Spy:
        def encode_batch(self, texts, add_special_tokens):
            seen.extend(len(t) for t in texts)
            return encode_batch(texts, add_special_tokens=add_special_tokens)

    spied = Encoder.__new__(Encoder)
    object.__setattr__(spied, "tokenizer", Spy())
    object.__setattr__(spied, "max_length", 32)
    object.__setattr__(spied, "truncation", truncation)
    huge = "a truly wonderful film. " * 2_000_000 + "the end, and it was dreadful."  # 48 MB
    ids = spied.encode([huge])
    limit = 32 * CHARS_PER_TOKEN
    assert max(seen) <= 2 * limit + 1
    assert ids == encoder.encode([huge[:limit] + " " + huge[-limit:]] if truncation == "head+tail" else [huge[:limit]])


def test_unknown_truncation_is_refused(hf_tokenizer):
    with pytest.raises(ValueError, match="truncation 'tail'"):
        Encoder.from_pretrained(hf_tokenizer, 32, "tail")
