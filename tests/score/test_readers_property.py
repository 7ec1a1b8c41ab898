"""Property tests of the streaming readers: any table of texts survives Parquet, CSV and JSON Lines."""

import string

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiscore.readers import Columns, read_chunks
from tests.conftest import write_formats

# any Unicode text except lone surrogates (not encodable as UTF-8 at all), with at least one visible
# character: empty or blank texts are skipped rows by design and read back as null or empty
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=200).filter(
    lambda t: t.strip() != "")
ids = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(ids, texts, st.integers(0, 1)), min_size=1, max_size=40,
                     unique_by=lambda r: r[0]))
def test_any_table_reads_back_the_same_in_every_format(tmp_path_factory, rows):
    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    paths = write_formats(frame, tmp_path_factory.mktemp("prop"))
    for fmt, path in paths.items():
        chunks = list(read_chunks(str(path), Columns()))
        got_ids = [i for c in chunks for i in c.ids]
        got_texts = [t for c in chunks for t in c.texts]
        got_labels = [x for c in chunks for x in c.labels]
        assert got_ids == frame["id"].tolist(), fmt
        assert got_texts == frame["text"].tolist(), fmt
        assert got_labels == frame["label"].tolist(), fmt
