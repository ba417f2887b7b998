"""Where large node values live: content-addressed bytes on disk (L1).

An artifact is named by the sha256 of its content. ``FileArtifactStore.put`` writes to a
temporary file in the target directory, fsyncs it, renames it into place and fsyncs the
directory, so an artifact is complete on disk before any event can refer to it and no
partially written file is ever visible under its name. The media type is kept in a sidecar
written the same way, before the content. Files are created 0600 and directories 0700. The
``ArtifactStore`` protocol lives in the domain (``eventsvc.invocations.context``) so nodes
can name it; it is re-exported here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from eventsvc.invocations.context import ArtifactStore

__all__ = ["ArtifactStore", "FileArtifactStore"]


# One writing process owns an artifact directory: a lock per directory makes a put and the
# removal of the same artifact take turns (``remove_if_older``).
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_of(root: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(root.resolve(), threading.Lock())


class FileArtifactStore:
    """Artifacts as files under ``root/<first two hex digits>/<sha256>``.

    A file's modification time is when it was last stored: a ``put`` of bytes already held
    touches it, so retention (``eventsvc.artifact_retention``) judges an artifact's age by
    its latest ``put``, never by its first.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock = _lock_of(self.root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise KeyError(f"not an artifact id (64 lowercase hex digits): {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, media_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        with self._lock:
            if target.exists():
                os.utime(target)  # stored again: young again
                return sha
            self._make_directory(target.parent)
            _write_atomically(target.with_suffix(".type"), media_type.encode())
            _write_atomically(target, data)
        return sha

    def stored_before(self, grace: float) -> Iterator[str]:
        """The artifacts last stored more than ``grace`` seconds ago (by this host's clock)."""
        cutoff = time.time() - grace
        for directory in sorted(self.root.glob("??")):
            for entry in os.scandir(directory):
                if len(entry.name) == 64 and entry.stat().st_mtime < cutoff:
                    yield entry.name

    def remove_if_older(self, sha256: str, grace: float) -> bool:
        """Remove the artifact if it was last stored more than ``grace`` seconds ago, as one
        step with respect to ``put``: a put that came first keeps it; one that comes after
        stores it anew."""
        target = self.path(sha256)
        with self._lock:
            try:
                if target.stat().st_mtime >= time.time() - grace:
                    return False
            except FileNotFoundError:
                return False
            target.unlink(missing_ok=True)
            target.with_suffix(".type").unlink(missing_ok=True)
        return True

    def _make_directory(self, directory: Path) -> None:
        # Node outputs are for this user alone. ``parents=True`` would give the root the
        # default mode, so the root is made 0700 on its own first.
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
        except FileNotFoundError:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.mkdir(mode=0o700, exist_ok=True)

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise KeyError(f"no artifact {sha256!r} in {str(self.root)!r}") from None

    def media_type(self, sha256: str) -> str:
        try:
            return self.path(sha256).with_suffix(".type").read_text()
        except FileNotFoundError:
            raise KeyError(f"no artifact {sha256!r} in {str(self.root)!r}") from None

    def __contains__(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        target = self.path(sha256)
        with self._lock:
            target.unlink(missing_ok=True)
            target.with_suffix(".type").unlink(missing_ok=True)


def _write_atomically(target: Path, data: bytes) -> None:
    # mkstemp is os.open(O_CREAT | O_EXCL, 0o600) under a fresh name: the file is private
    # from its first byte, and the rename keeps that mode.
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
