"""Atomic writes: the target is replaced whole or left as it was, and no temporary file stays behind."""

import json

import pytest

from spae_core.atomic import atomic_path, atomic_write_json


def test_atomic_path_replaces_the_target_and_creates_its_folder(tmp_path):
    target = tmp_path / "new" / "file.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        tmp.write_text("first")
    assert target.read_text() == "first"
    with atomic_path(target) as tmp:
        tmp.write_text("second")
    assert target.read_text() == "second"
    assert list(target.parent.iterdir()) == [target]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "record.json"
    atomic_write_json({"a": 1}, target, indent=1)
    with pytest.raises(TypeError):
        atomic_write_json({"a": object()}, target)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"a": 1}
    assert list(tmp_path.iterdir()) == [target]
