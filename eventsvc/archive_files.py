"""Archive files on disk (L1): gzip-compressed NDJSON, written whole before any row leaves
the live log, read back for audit and restore, and the artifacts moved beside them.

A file is written under a temporary name in the archive directory, fsynced, renamed into
place and the directory fsynced, so a file under its final name is always complete; its
sha256 is taken over the compressed bytes as they are written. A file an archive wrote but
never committed (the process died in between) is only a stray: the log does not name it, and
the next archive of the same positions writes it again under the same name. Directories are
made 0700 and files 0600, as the store's own.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

SUFFIX = ".ndjson.gz"
# Level 1: a daily archive's rows compress about as well at level 6, at a fraction of the CPU.
_LEVEL = 1


def file_name(first: int, last: int) -> str:
    """The name of the archive of positions ``first`` to ``last`` (sorts in log order)."""
    return f"archive-{first:012d}-{last:012d}{SUFFIX}"


def default_directory(store_url: str) -> Path | None:
    """``<store file>.archive`` beside a SQLite store's file; None for other stores."""
    path = store_url.removeprefix("sqlite://").partition("?")[0]
    if not store_url.startswith("sqlite://") or path == ":memory:":
        return None
    return Path(f"{path}.archive")


class _Hashing:
    """A binary file that hashes and counts what is written to it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


class ArchiveWriter:
    """One archive file being written; ``finish`` puts it in place, ``abort`` drops it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.path = directory / name
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=directory)
        self._temporary = Path(temporary)
        self._raw = os.fdopen(descriptor, "wb")
        self._hashing = _Hashing(self._raw)
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._hashing, compresslevel=_LEVEL, mtime=0
        )

    def write(self, chunk: bytes) -> None:
        self._gzip.write(chunk)

    def finish(self) -> tuple[str, int]:
        """Close, fsync and rename the file into place: its sha256 (hex) and size."""
        self._gzip.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._temporary, self.path)
        _fsync_directory(self.directory)
        return self._hashing.digest.hexdigest(), self._hashing.size

    def abort(self) -> None:
        try:
            self._gzip.close()
        finally:
            self._raw.close()
            self._temporary.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def read_lines(path: Path) -> Iterator[bytes]:
    """The NDJSON lines of an archive file (a ``gzip.BadGzipFile`` or ``OSError`` if it is
    not one)."""
    with gzip.open(path, "rb") as handle:
        yield from handle


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class MovableArtifacts(Protocol):
    """What moving an artifact needs of an artifact store (both backends' stores have it)."""

    def get(self, sha256: str) -> bytes: ...

    def media_type(self, sha256: str) -> str: ...

    def remove_if_older(self, sha256: str, grace: float) -> bool: ...


def move_artifact(artifacts: MovableArtifacts, sha256: str, target: Path, grace: float) -> bool:
    """Copy an artifact into ``target`` (``<sha256>`` and ``<sha256>.type``), then remove it
    from the store if it was last stored more than ``grace`` seconds ago (a put since keeps
    it there too); whether it left the store."""
    try:
        data, media_type = artifacts.get(sha256), artifacts.media_type(sha256)
    except KeyError:
        return False
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, content in ((f"{sha256}.type", media_type.encode()), (sha256, data)):
        descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target / name)
    _fsync_directory(target)
    return artifacts.remove_if_older(sha256, grace)
