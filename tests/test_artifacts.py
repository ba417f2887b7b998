from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from eventsvc.artifacts import FileArtifactStore


def test_artifacts_are_addressed_by_content(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path)
    sha = store.put(b"pixels", "image/png")
    assert sha == hashlib.sha256(b"pixels").hexdigest()
    assert store.get(sha) == b"pixels"
    assert store.media_type(sha) == "image/png"
    assert store.put(b"pixels", "image/png") == sha
    assert sha in store
    assert store.path(sha) == tmp_path / sha[:2] / sha


def test_a_missing_or_malformed_id_is_a_key_error(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path)
    with pytest.raises(KeyError, match="no artifact"):
        store.get("0" * 64)
    with pytest.raises(KeyError, match="not an artifact id"):
        store.get("../../etc/passwd")


def test_no_partially_written_file_is_ever_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileArtifactStore(tmp_path)
    data = b"x" * 100_000
    sha = hashlib.sha256(data).hexdigest()
    real_replace = os.replace

    def crash_on_content(source: str, target: str) -> None:
        if not str(target).endswith(".type"):
            raise OSError("disk went away")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_content)
    with pytest.raises(OSError, match="disk went away"):
        store.put(data, "application/octet-stream")
    monkeypatch.undo()

    assert sha not in store
    assert [p.name for p in store.path(sha).parent.iterdir() if p.name.startswith(".tmp")] == []
    assert store.put(data, "application/octet-stream") == sha
    assert store.get(sha) == data


@pytest.mark.usefixtures("umask_022")
def test_artifact_files_are_0600_and_their_directories_0700(tmp_path: Path) -> None:
    root = tmp_path / "data" / "artifacts"
    store = FileArtifactStore(root)
    target = store.path(store.put(b"pixels", "image/png"))
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert os.stat(target.with_suffix(".type")).st_mode & 0o777 == 0o600
    assert os.stat(target.parent).st_mode & 0o777 == 0o700
    assert os.stat(root).st_mode & 0o777 == 0o700
