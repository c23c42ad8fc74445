"""Named POSIX shared memory and semaphores, plus cleanup of what dead creators left behind.

Everything is opened *by name*, so a setup dict only carries strings and ints: it pickles under every
start method, through queues, and a process may attach at any time (late reader groups).
The names carry the creator's pid (``mimocorb_<pid>_<tag>``) and are listed in a small registry
directory, so ``cleanup_stale()`` can remove what a SIGKILLed creator could not (on Linux the
registry is backed up by a scan of /dev/shm; macOS cannot list POSIX shared memory).
"""

from __future__ import annotations

import _multiprocessing
import _posixshmem
import contextlib
import errno
import json
import mmap
import os
import secrets
import tempfile
from pathlib import Path

PREFIX = "mimocorb_"
_SEMAPHORE = 1  # _multiprocessing.SemLock kind: a counting semaphore (no owner checks)
# the largest count a semaphore may hold here (2**31 - 1 on Linux; platforms differ)
SEM_VALUE_MAX: int = _multiprocessing.SemLock.SEM_VALUE_MAX


def new_base_name() -> str:
    """A short unique name: macOS limits POSIX shm/semaphore names to 31 characters."""
    return f"{PREFIX}{os.getpid()}_{secrets.token_hex(3)}"


SHM_DIR = Path("/dev/shm")  # where Linux keeps POSIX shared memory (a tmpfs)


def create_segment(name: str, size: int) -> mmap.mmap:
    """A new segment of ``size`` bytes, every page of it reserved (see ``_reserve``); a segment that
    cannot be made is not left behind."""
    fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, size)
        _reserve(fd, size)
        return mmap.mmap(fd, size)
    except BaseException:
        unlink_segment(name)
        raise
    finally:
        os.close(fd)


def _reserve(fd: int, size: int) -> None:
    """Take every page now. tmpfs hands pages out on first write, and a write to a page it has no room
    for kills the writing process with SIGBUS, in the middle of a run; reserved at creation, a buffer
    that does not fit fails here with ENOSPC instead. (macOS has no posix_fallocate: its shared memory is
    not a file system that fills up.)"""
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):  # not supported here: as before
            raise


def shared_memory_free() -> int | None:
    """Bytes that new shared memory may still take: the free space of /dev/shm on Linux; ``None`` where
    shared memory is not a file system (macOS), so that only the RAM limits it."""
    try:
        st = os.statvfs(SHM_DIR)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def attach_segment(name: str) -> mmap.mmap:
    try:
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    except FileNotFoundError:
        raise RuntimeError(
            f"ring buffer segment '{name}' does not exist: the buffer was closed "
            "(or its creating process ended) before this process attached"
        ) from None
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def unlink_segment(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _posixshmem.shm_unlink("/" + name)


def create_semaphore(name: str, value: int, maxvalue: int):
    return _multiprocessing.SemLock(_SEMAPHORE, value, maxvalue, "/" + name, False)


def open_semaphore(name: str, maxvalue: int):
    try:
        return _multiprocessing.SemLock._rebuild(0, _SEMAPHORE, maxvalue, "/" + name)
    except FileNotFoundError:
        raise RuntimeError(f"ring buffer semaphore '{name}' does not exist (buffer closed?)") from None


def unlink_semaphore(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _multiprocessing.sem_unlink("/" + name)


# ---------------------------------------------------------------------------------------------
# registry of live buffers, for cleanup after a creator was killed


def _registry_dir() -> Path:
    d = Path(tempfile.gettempdir()) / f"mimocorb-{os.getuid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def register(base: str, segments: list[str], semaphores: list[str]) -> None:
    entry = {"pid": os.getpid(), "segments": segments, "semaphores": semaphores}
    path = _registry_dir() / f"{base}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry))
    tmp.replace(path)


def unregister(base: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (_registry_dir() / f"{base}.json").unlink()


def pid_alive(pid: int) -> bool:
    """True if pid runs (zombies count as dead on Linux, where /proc tells)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (FileNotFoundError, IndexError):
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")


def _owner_pid(name: str) -> int:
    try:
        return int(name[len(PREFIX) :].split("_", 1)[0])
    except ValueError:
        return -1


def cleanup_stale() -> list[str]:
    """Unlink segments and semaphores whose creating process is dead; returns what was removed.

    What ``mimocorb cleanup`` does: a killed run cannot unlink its shared memory itself. Buffers of
    living processes are never touched, so this is safe while other runs go on.

    Returns:
        The names of the removed segments and semaphores.
    """
    removed: list[str] = []
    for entry_path in _registry_dir().glob(f"{PREFIX}*.json"):
        try:
            entry = json.loads(entry_path.read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(entry.get("pid", -1)):
            continue
        for seg in entry.get("segments", []):
            unlink_segment(seg)
            removed.append(seg)
        for sem in entry.get("semaphores", []):
            unlink_semaphore(sem)
            removed.append(sem)
        with contextlib.suppress(FileNotFoundError):
            entry_path.unlink()
    if SHM_DIR.is_dir():  # Linux: also catch what the registry missed
        for p in SHM_DIR.iterdir():
            name = p.name[4:] if p.name.startswith("sem.") else p.name
            if name.startswith(PREFIX) and not pid_alive(_owner_pid(name)):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(name)
    return sorted(set(removed))
