"""Recipes: one dataclass, checked on load, written back with a TOML library, flags derived from it."""

import argparse
import dataclasses
import tomllib

import pytest

from sentiscore.errors import BadInput
from sentiscore.recipe import Recipe, Source, add_recipe_flags, load_recipe, recipe_names, recipe_overrides


def test_shipped_recipes_load():
    assert {"default", "amazon_polarity_bert_base"} <= set(recipe_names())
    default = load_recipe("default")
    assert (default.name, default.epochs, default.lr, default.sources_label) == ("default", 3.0, 1e-4, "bundled")
    published = load_recipe("amazon_polarity_bert_base")
    assert published.text_columns == ["title", "content"] and published.max_validation_rows == 20000


@pytest.mark.parametrize("line,message", [
    ('epochs = "3"', "epochs must be a number, got '3'"),
    ("batch_size = 16.5", "batch_size must be an integer, got 16.5"),
    ("batch_size = true", "batch_size must be an integer, got True"),
    ("lr = 2.0", "lr must be in (0, 1), got 2.0"),
    ("max_length = 4", "max_length must be in [8, 8192], got 4"),
    ("text_columns = [1]", "text_columns must be a list of strings"),
    ("epoch = 3", "unknown recipe setting 'epoch'"),
    ("epochs = ", "invalid TOML"),
    ('truncation = "tail"', "truncation must be one of head, head+tail, got 'tail'"),
    ('dataset = [{ source = "a.csv", max_train_rows = 0 }]', "dataset.max_train_rows must be an integer >= 1, got 0"),
    ('dataset = [{ source = "a.csv", rows = 5 }]', "unknown key 'rows'"),
    ('dataset = [{ name = "a" }]', "no `source`"),
    ('dataset = ["x/a.csv", "y/a.csv"]', "dataset names a source twice (a, a; give each a `name`)"),
    ("dataset = []", "dataset must name at least one source"),
    ("dataset = 5", "dataset must be a source or a list of sources, got 5"),
])
def test_bad_recipe_files_name_the_file_and_the_setting(tmp_path, line, message):
    path = tmp_path / "r.toml"
    path.write_text(f'model = "m"\n{line}\n')
    with pytest.raises(BadInput) as caught:
        load_recipe(str(path))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


@pytest.mark.parametrize("override,message", [
    ({"epochs": 0.0}, "--epochs must be > 0, got 0.0"),
    ({"max_train_rows": 0}, "--max-train-rows must be >= 1, got 0"),
    ({"warmup_ratio": 1.0}, "--warmup-ratio must be in [0, 1), got 1.0"),
    ({"dataset": [""]}, "--dataset must not be empty"),
])
def test_bad_overrides_name_the_flag(override, message):
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_recipe("default", **override)


def test_overrides_apply_and_none_changes_nothing():
    recipe = load_recipe("default", epochs=1, seed=None, text_columns=["a", "b"])
    assert recipe.epochs == 1.0 and isinstance(recipe.epochs, float) and recipe.seed == 42
    assert recipe.text_columns == ["a", "b"]


def test_toml_round_trip_escapes_what_it_must(tmp_path):
    recipe = dataclasses.replace(load_recipe("default"), model='C:\\models\\"quoted" model', text_columns=['a"b'])
    text = recipe.to_toml()
    assert tomllib.loads(text)["model"] == 'C:\\models\\"quoted" model'
    path = tmp_path / "saved.toml"
    path.write_text(text)
    assert load_recipe(str(path)) == dataclasses.replace(recipe, name="default")


def test_every_setting_is_a_flag():
    parser = argparse.ArgumentParser()
    add_recipe_flags(parser)
    args = parser.parse_args(["--epochs", "2", "--max-length", "64", "--text-column", "title",
                              "--text-column", "content", "--max-validation-rows", "10"])
    overrides = recipe_overrides(args)
    assert set(overrides) == {f.name for f in dataclasses.fields(Recipe)} - {"name"}
    recipe = load_recipe("default", **overrides)
    assert (recipe.epochs, recipe.max_length, recipe.text_columns, recipe.max_validation_rows) == \
        (2.0, 64, ["title", "content"], 10)
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "many"])


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(BadInput,
                       match="--recipe nope: unknown recipe \\(known: amazon_polarity_bert_base, base, default"):
        load_recipe("nope")
    with pytest.raises(BadInput, match="no such file"):
        load_recipe("missing.toml")


def test_several_sources_load_and_round_trip(tmp_path):
    general = load_recipe("general")
    assert [s.name for s in general.dataset] == ["amazon", "rotten_tomatoes", "imdb"]
    imdb = general.dataset[2]
    assert (imdb.source, imdb.local, imdb.max_train_rows, imdb.max_test_rows, general.truncation) == \
        ("hub:imdb", "imdb_reviews.parquet", 6000, 2000, "head+tail")
    assert imdb.spec(None) == "hub:imdb" and imdb.spec("/data") == "/data/imdb_reviews.parquet"
    assert general.dataset[0].spec("/data") == "bundled"  # no local copy: read as it is
    path = tmp_path / "general.toml"
    path.write_text(general.to_toml())
    assert load_recipe(str(path)) == general
    assert 'dataset = "bundled"' in load_recipe("default").to_toml()  # one plain source stays a string


def test_dataset_flags_make_one_source_each():
    parser = argparse.ArgumentParser()
    add_recipe_flags(parser)
    args = parser.parse_args(["--dataset", "bundled", "--dataset", "hub:imdb", "--data-dir", "/d"])
    recipe = load_recipe("general", **recipe_overrides(args))
    assert recipe.dataset == [Source("bundled"), Source("hub:imdb")] and recipe.data_dir == "/d"
    assert recipe.sources_label == "bundled=bundled + imdb=hub:imdb"


def test_distill_recipes_are_their_own_kind():
    from sentiscore.recipe import DistillRecipe

    assert "distill" in recipe_names(DistillRecipe) and "distill" not in recipe_names()
    assert "default" not in recipe_names(DistillRecipe)
    recipe = load_recipe("distill", DistillRecipe, layers=3)
    assert recipe.layers == 3 and recipe.unlabeled == ["imdb_reviews.parquet", "rotten_tomatoes.parquet"]
    with pytest.raises(BadInput, match="--alpha must be in"):
        load_recipe("distill", DistillRecipe, alpha=2)
    with pytest.raises(BadInput, match="--keep must be one of"):
        load_recipe("distill", DistillRecipe, keep="top")
    with pytest.raises(BadInput, match="unknown recipe"):
        load_recipe("default", DistillRecipe)
    with pytest.raises(BadInput, match="--unlabeled-sentences needs unlabeled sources"):
        load_recipe("distill", DistillRecipe, unlabeled=[])
