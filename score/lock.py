"""One job per output: an flock on a lock file, released by the kernel when its process dies.

A second job on the same output exits at once (exit 2, naming the holder); a lock file left by a
dead process is simply taken over. The lock file stays (empty after a clean exit): deleting it
would let a waiting opener lock an unlinked inode while a third process locks a new one.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentiscore import log
from sentiscore.errors import BadInput, io_failure


@contextmanager
def locked(path: Path, what: str, report_takeover: bool = True) -> Iterator[None]:
    """Hold PATH (an flock) while the block runs; WHAT names the job in the refusal. REPORT_TAKEOVER: an
    event when the lock names a dead holder (a single-file job's resume says so in its summary instead)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise io_failure(f"{what}: cannot create its lock {path}", exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            raise BadInput(f"{what}: another job holds {path.name} ({holder}); not starting a second one") \
                from None
        previous = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if previous and report_takeover:
            log.event("lock.taken_over", lock=str(path), previous=previous)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%FT%T%z')}".encode(), 0)
        except OSError as exc:
            raise io_failure(f"{what}: cannot write its lock {path}", exc) from None
        yield
        try:
            os.ftruncate(fd, 0)  # a clean exit leaves an empty lock file: nothing to take over
        except OSError:
            pass  # the lock goes with the process anyway; only the holder's name stays behind
    finally:
        os.close(fd)
