"""Texts to token ids, cut to the model's max length the recipe's way: the one tokenisation of
finetune, parity and the scorer, so a long review is cut alike when trained on, checked and scored.

- head: the first max_length tokens (the usual truncation).
- head+tail: the first quarter and the last three quarters of the budget (Sun et al. 2019, "How to
  Fine-Tune BERT for Text Classification?": 128 + 382 of 512 was their best on IMDB): a long review's
  verdict is mostly in its closing lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRUNCATIONS = ("head", "head+tail")
# head+tail keeps this share of the token budget from the head (Sun et al.'s 128 of 510)
HEAD_SHARE = 0.25
# WordPiece makes one [UNK] of any word over 100 characters, so a token spans at most ~100 characters
# plus its spaces: 128 per token keeps every token the model sees (short of pathological whitespace)
CHARS_PER_TOKEN = 128


def head_tail(ids: list[int], special: list[int], max_length: int) -> list[int]:
    """IDS (with the special tokens the tokenizer added, marked 1 in SPECIAL) cut to MAX_LENGTH tokens
    keeping the first HEAD_SHARE and the last rest of the text's own tokens."""
    if len(ids) <= max_length:
        return ids
    lead = next((i for i, s in enumerate(special) if not s), len(ids))
    trail = next((i for i, s in enumerate(reversed(special)) if not s), 0)
    budget = max_length - lead - trail
    head = int(budget * HEAD_SHARE)
    end = len(ids) - trail
    return ids[:lead + head] + ids[end - (budget - head):]


@dataclass(frozen=True)
class Encoder:
    """A `tokenizers` tokenizer with the max length and truncation of one model, padding off."""

    tokenizer: object
    max_length: int
    truncation: str = "head"

    def __post_init__(self) -> None:
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"truncation {self.truncation!r}: use {', '.join(TRUNCATIONS)}")
        self.tokenizer.no_padding()
        if self.truncation == "head":  # cut in Rust; head+tail cuts after tokenising the whole text
            self.tokenizer.enable_truncation(max_length=self.max_length)
        else:
            self.tokenizer.no_truncation()

    @classmethod
    def from_file(cls, tokenizer_file: Path, max_length: int, truncation: str = "head") -> Encoder:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(tokenizer_file)), max_length, truncation)

    @classmethod
    def from_pretrained(cls, hf_tokenizer, max_length: int, truncation: str = "head") -> Encoder:
        """A copy of a transformers fast tokenizer's own `tokenizers` tokenizer (the original keeps its settings)."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str()), max_length, truncation)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, special tokens included, at most max_length. A text is first cut to
        CHARS_PER_TOKEN characters per token (from each end for head+tail): a 50 MB review is not
        tokenised whole to keep 128 tokens."""
        limit = self.max_length * CHARS_PER_TOKEN
        if self.truncation == "head":
            return [e.ids for e in self.tokenizer.encode_batch([t[:limit] for t in texts], add_special_tokens=True)]
        texts = [t if len(t) <= 2 * limit else f"{t[:limit]} {t[-limit:]}" for t in texts]
        return [head_tail(e.ids, e.special_tokens_mask, self.max_length)
                for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]
