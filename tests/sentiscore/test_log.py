"""One handler for sentiscore and the libraries: human lines, or one JSON object per line."""

import json
import logging
import warnings

import pytest

from sentiscore import log


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.captureWarnings(False)  # an earlier in-process CLI test may have left it on, under pytest's own
    yield
    log.configure("human")
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_mode_makes_every_line_a_json_object(restore_logging, capsys):
    library = logging.getLogger("some_library")
    library.addHandler(logging.StreamHandler())  # as transformers and datasets do on import
    library.propagate = False
    log.configure("json")
    log.event("job.start", inputs=3)
    library.warning("deprecated\nover two lines")
    warnings.warn("careful", UserWarning, stacklevel=1)
    log.error("x.csv: row 3 has no text", 2)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["job.start", "library", "library", "error"]
    assert records[0]["inputs"] == 3
    assert records[1]["logger"] == "some_library" and records[1]["message"] == "deprecated\nover two lines"
    assert records[2]["logger"] == "py.warnings" and "careful" in records[2]["message"]
    assert records[3] == {**records[3], "message": "x.csv: row 3 has no text", "exit_code": 2, "level": "error"}


def test_human_mode_is_one_readable_line_per_event(restore_logging, capsys):
    log.configure("human")
    log.event("file.scored", input="a.csv", rows=10)
    log.error("a.csv: unreadable", 2)
    assert capsys.readouterr().err.splitlines() == ["sentiscore: file.scored input=a.csv rows=10",
                                                    "sentiscore: a.csv: unreadable"]


def test_an_error_is_one_line_whatever_the_names_in_it(capsys):
    """A column or file name holding a vertical tab or a line separator (the fuzz test found one)."""
    log.configure("human")
    log.error("in.csv: no text column (columns: a\x0bb, c\nd, e\u2028f)", 2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err.splitlines()) == 1 and "a\\x0bb" in err
