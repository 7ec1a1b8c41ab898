"""Atomic writes: a file or folder is complete or absent, and a failed replacement keeps the old one."""

import pytest

from sentiscore import atomic


def test_a_failed_folder_leaves_nothing(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic.atomic_dir(final) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_appears_whole(tmp_path):
    final = tmp_path / "run"
    with atomic.atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("a")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "a" and [p.name for p in tmp_path.iterdir()] == ["run"]
    with pytest.raises(FileExistsError), atomic.atomic_dir(final):
        pass


def test_a_failed_overwrite_keeps_the_old_folder(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_dir(final, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("killed")
    assert [p.name for p in final.iterdir()] == ["old.txt"]
    with atomic.atomic_dir(final, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["run"]


def test_files_are_replaced_whole(tmp_path):
    path = tmp_path / "x.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        tmp.write_text("{broken")
        raise RuntimeError("killed")
    assert path.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["x.json"]
