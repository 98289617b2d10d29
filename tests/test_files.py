"""Files and folders written whole or not at all (metanmt/files.py): the result is complete, a
failure mid-write leaves the old one as it was, and everything is synced before the rename."""

import os
from pathlib import Path

import pytest

from metanmt.files import atomic_dir, atomic_write, fresh_dir, previous, swap_in, temporary


class Boom(RuntimeError):
    pass


def listing(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def events(monkeypatch):
    """fsync and rename calls, in order."""
    found = []
    real_fsync, real_rename, real_replace = os.fsync, Path.rename, Path.replace
    monkeypatch.setattr(os, "fsync", lambda fd: found.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(
        Path, "rename", lambda self, target: found.append("rename") or real_rename(self, target)
    )
    monkeypatch.setattr(
        Path, "replace", lambda self, target: found.append("rename") or real_replace(self, target)
    )
    return found


def test_atomic_write_writes_the_whole_file_synced_before_the_rename(tmp_path, events):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_bytes(b"new" * 1000)
        assert path.read_bytes() == b"old"  # not replaced before the block ends
    assert path.read_bytes() == b"new" * 1000
    assert events == ["fsync", "rename", "fsync"]  # the file, the rename, the folder
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(Boom), atomic_write(path) as tmp:
        tmp.write_bytes(b"half")
        raise Boom
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_atomic_write_takes_the_temporary_name_it_is_given(tmp_path):
    path = tmp_path / "images.zip"
    with atomic_write(path, tmp=path.with_suffix(".part")) as tmp:
        assert tmp == tmp_path / "images.part"
        tmp.write_text("zip")
    assert path.read_text() == "zip" and not tmp.exists()


def test_atomic_dir_swaps_in_a_complete_folder(tmp_path, events):
    folder = tmp_path / "last"
    folder.mkdir()
    (folder / "stale").write_text("from the previous one")
    with atomic_dir(folder) as tmp:
        assert tmp == temporary(folder) == tmp_path / "last.tmp"
        (tmp / "a").write_text("a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b").write_text("b")
        assert listing(folder) == {"stale": b"from the previous one"}
    assert listing(folder) == {"a": b"a", "sub/b": b"b"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no .tmp, no .old
    # two files and two folders synced before the first rename, the parent after the last one
    assert events == ["fsync"] * 4 + ["rename", "rename", "fsync"]


def test_a_failure_mid_build_leaves_the_old_folder_and_no_temporary(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(Boom), atomic_dir(folder) as tmp:
        (tmp / "manifest.json").write_text('{"half": true}')
        raise Boom
    assert listing(folder) == {"manifest.json": b"{}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_a_crash_between_the_renames_leaves_the_old_folder_at_its_previous_name(
    tmp_path, monkeypatch
):
    folder = tmp_path / "best"
    folder.mkdir()
    (folder / "w").write_text("old")
    real_rename = Path.rename

    def crash_on_the_second(self, target):
        if self.name.endswith(".tmp"):
            raise Boom  # the power went after the first rename
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", crash_on_the_second)
    tmp = fresh_dir(folder)
    (tmp / "w").write_text("new")
    with pytest.raises(Boom):
        swap_in(tmp, folder)
    assert not folder.exists() and (previous(folder) / "w").read_text() == "old"
    monkeypatch.setattr(Path, "rename", real_rename)
    tmp = fresh_dir(folder)  # the next write starts over and clears the previous copy
    (tmp / "w").write_text("newer")
    swap_in(tmp, folder)
    assert (folder / "w").read_text() == "newer" and not previous(folder).exists()


def test_a_new_folder_and_a_build_left_by_a_crash(tmp_path):
    folder = tmp_path / "deep" / "tokens"
    (tmp_path / "deep" / "tokens.tmp").mkdir(parents=True)
    (tmp_path / "deep" / "tokens.tmp" / "junk").write_text("from a crashed build")
    with atomic_dir(folder) as tmp:
        assert list(tmp.iterdir()) == []  # emptied
        (tmp / "ids.npy").write_bytes(b"\0")
    assert listing(tmp_path / "deep") == {"tokens/ids.npy": b"\0"}
