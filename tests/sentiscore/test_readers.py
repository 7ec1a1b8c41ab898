"""The one reader: every format reads alike, one set of rules for ids, texts and labels, and the
format registry is the one place a format is added."""

import csv

import pandas as pd
import pytest

from sentiscore import readers
from sentiscore.errors import BadInput
from sentiscore.readers import Columns, Format, labelled_parts, labelled_table, read_chunks
from tests.conftest import BUNDLED, write_formats


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_parquet(BUNDLED).head(300)
    frame.loc[3, "text"] = 'quotes "inside", a comma, and émoji 😀'
    return frame


def test_parquet_csv_jsonl_read_identically(sample, tmp_path):
    paths = write_formats(sample, tmp_path)
    tables = {fmt: labelled_table(str(p), Columns()) for fmt, p in paths.items()}
    pd.testing.assert_frame_equal(tables["parquet"], tables["csv"])
    pd.testing.assert_frame_equal(tables["parquet"], tables["jsonl"])
    assert tables["parquet"]["text"].tolist() == sample["text"].tolist()
    assert tables["parquet"]["group"].tolist() == sample["review_id"].astype(str).tolist()


def test_chunks_cover_a_file_in_order(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_ROWS", 64)
    path = write_formats(sample, tmp_path)["jsonl"]
    chunks = list(read_chunks(str(path)))
    assert [c.start for c in chunks] == [0, 64, 128, 192, 256]
    assert [i for c in chunks for i in c.ids] == sample["id"].tolist()


@pytest.mark.parametrize("change,message", [
    (lambda f: f.drop(columns=["text"]), "no text column"),
    (lambda f: f.drop(columns=["label"]), "no label column 'label'"),
    (lambda f: f.assign(label=[2] + [0] * (len(f) - 1)), "row 0 has label 2"),
    (lambda f: f.assign(text=["ok", None] + ["x"] * (len(f) - 2)), "row 1 (id 1) has no text"),
    (lambda f: f.assign(text=["ok", "  "] + ["x"] * (len(f) - 2)), "row 1 (id 1) has an empty text"),
    (lambda f: f.head(0), "no rows"),
])
def test_bad_labelled_tables_name_what_is_wrong(sample, tmp_path, change, message):
    path = tmp_path / "bad.parquet"
    change(sample.assign(id=[str(i) for i in range(len(sample))])).to_parquet(path)
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        labelled_parts(str(path), Columns())
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name,content,message", [
    ("garbage.parquet", b"not a parquet file", "unreadable"),
    ("empty.csv", b"", "unreadable"),
    ("bad.jsonl", b'{"id": "1", "text": "a", "label": 1}\n{oops\n', "line 2 is not JSON"),
    ("bytes.csv", b"id,text,label\n1,\xff\xfe,1\n", "invalid UTF-8"),
    ("notes.txt", b"hello", "unsupported file type '.txt'"),
])
def test_unreadable_files_are_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message) as caught:
        labelled_parts(str(path), Columns())
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_ids_unique_across_parts(sample, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sample.drop(columns=["id"]).head(10).to_parquet(folder / "a.parquet")
    sample.drop(columns=["id"]).iloc[10:20].to_csv(folder / "b.csv", index=False)
    table = labelled_parts(str(folder), Columns())["all"]
    assert table["id"].tolist() == [f"a.parquet:{i}" for i in range(10)] + [f"b.csv:{i}" for i in range(10)]
    sample.head(10).to_parquet(folder / "c.parquet")
    sample.head(10).to_parquet(folder / "d.parquet")
    with pytest.raises(BadInput, match=f"id {sample['id'].iloc[0]} appears more than once"):
        labelled_parts(str(folder), Columns())


def test_hub_source_reads_a_local_dataset_in_amazon_polaritys_schema(sample, tmp_path):
    """`hub:NAME` goes through datasets.load_dataset; offline, a local folder in the same schema."""
    polarity = pd.DataFrame({"label": sample["label"], "title": [f"Title {i}" for i in range(len(sample))],
                             "content": sample["text"]})
    folder = tmp_path / "amazon_polarity"
    folder.mkdir()
    polarity.iloc[:240].to_parquet(folder / "train.parquet", index=False)
    polarity.iloc[240:].to_parquet(folder / "test.parquet", index=False)
    parts = labelled_parts(f"hub:{folder}", Columns())
    assert set(parts) == {"train", "test"} and len(parts["test"]) == 60
    assert parts["test"]["text"].iloc[0] == f"Title 240. {sample['text'].iloc[240]}"
    assert parts["test"]["id"].iloc[0] == "test:0"
    chunks = list(read_chunks(f"hub:{folder}", split="test"))
    assert [t for c in chunks for t in c.texts] == parts["test"]["text"].tolist()


def test_a_new_format_is_one_function_and_one_registry_line(tmp_path, monkeypatch):
    def tsv_frames(path, select):  # a frame: column name -> values
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        yield {name: [row[name] for row in rows] for name in rows[0]}

    monkeypatch.setitem(readers.FORMATS, ".tsv", Format(tsv_frames))
    (tmp_path / "r.tsv").write_text("id\ttext\tlabel\n7\tgreat\t1\n8\tawful\t0\n")
    assert readers.expand_inputs([str(tmp_path)]) == [str(tmp_path / "r.tsv")]
    table = labelled_parts(str(tmp_path / "r.tsv"), Columns())["all"]
    assert table[["id", "text", "label"]].values.tolist() == [["7", "great", 1], ["8", "awful", 0]]


def test_bundled_is_package_data():
    path = readers.bundled_path()
    assert path.is_file() and readers.expand_inputs(["bundled"]) == [str(path)]
    assert len(labelled_parts("bundled", Columns())["all"]) == 2985
