"""One training process per run directory: a lock that a second process is refused by.

Two trainers writing one `--model_dir` (a job started twice, a restart while the old process
still runs) interleave checkpoints and overwrite each other's run_config.json and summaries.
The lock is an OS lock (flock) on `.tapecraft.lock`, held on an open file for the whole run: the
kernel drops it when the process ends in any way (SIGKILL, a crash, PID 1 of a container that
is restarted), so a lock is never stale, whatever pid the next process gets. The file also holds
the owner's host and pid, for the message a second process gets.

Shared file systems: NFS v4 (and v3 with lockd) shares flock between machines. Where a file
system keeps locks per machine (some FUSE, CIFS or Lustre mounts), a process on another host is
only recognised by the host in the file: such a lock is kept, and the error names the file to
delete once that job is gone. Where flock is not supported at all, the host and pid decide:
a lock of this host whose pid no longer runs is taken over.

`deferred_release()` lets a caller keep every lock taken inside it until it ends: training takes
the lock once the data are checked, and the evaluation report and the export after training
still belong to the same run. Object-store paths (gs://, s3://, ...) are not locked.
"""

import contextlib
import contextvars
import datetime
import errno
import fcntl
import json
import os
import socket

from core.storage_errors import storage_error

LOCK_NAME = ".tapecraft.lock"
# The ExitStack of the innermost `deferred_release()` block, or None outside one.
_RELEASE_LATER = contextvars.ContextVar("run_lock_release_later", default=None)
_HELD = set()  # Real paths of the directories whose lock this process holds.


class RunDirectoryLockedError(RuntimeError):
    """Another live process trains in this directory; the message names it and the lock file."""


@contextlib.contextmanager
def deferred_release():
    """Locks taken inside this block are held until it ends, not only until their own `with` ends."""
    with contextlib.ExitStack() as stack:
        token = _RELEASE_LATER.set(stack)
        try:
            yield
        finally:
            _RELEASE_LATER.reset(token)


@contextlib.contextmanager
def run_directory_lock(directory: str):
    """Holds the directory's lock for the `with` block (or the enclosing `deferred_release()`).

    Yields:
      The lock file's path, or None for an object-store path.

    Raises:
      RunDirectoryLockedError: when another live process holds it, or the file names a process
        on another host (which this host cannot check).
      StorageError: when the directory or the lock file cannot be written (read-only, full).
    """
    if "://" in directory:
        yield None
        return
    path = os.path.join(directory, LOCK_NAME)
    try:
        os.makedirs(directory, exist_ok=True)
        lock_file = _acquire(path, directory)
    except OSError as error:
        raise (storage_error(path, error) or error) from None
    release_later = _RELEASE_LATER.get()
    if release_later is None:
        try:
            yield path
        finally:
            _release(lock_file, path)
    else:
        release_later.callback(_release, lock_file, path)
        yield path


def run_directory_in_use(directory) -> bool:
    """Whether a training process holds `directory`'s lock, asked without taking it (an evaluation
    job watching the run must not block it).

    The lock file names its owner: on this host, whether that pid runs decides. A file naming no
    owner yet, or another host's process, is probed with a shared flock released at once; a
    trainer starting in that instant on another machine would see the directory as locked.
    """
    if "://" in directory:
        return False
    if holds_run_directory_lock(directory):
        return True
    try:
        lock_file = open(os.path.join(directory, LOCK_NAME), encoding="utf-8")  # pylint: disable=consider-using-with
    except FileNotFoundError:  # Released: a trainer removes the file when it ends.
        return False
    with lock_file:
        holder = _read(lock_file)
        if holder is not None and holder["host"] == socket.gethostname():
            return _alive_elsewhere(holder)
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            return holder is not None  # No flock here: another host's record counts as held.
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
        return False


def holds_run_directory_lock(directory) -> bool:
    """Whether this process holds `directory`'s lock (so no other process writes there)."""
    return os.path.realpath(directory) in _HELD


def _acquire(path, directory):
    """Opens and locks `path`, writes this process into it, and returns the open file."""
    while True:
        lock_file = open(path, "a+", encoding="utf-8")  # pylint: disable=consider-using-with
        try:
            locked = _try_flock(lock_file)
            holder = _read(lock_file)
            if locked is False or (locked is None and _alive_elsewhere(holder)):
                raise RunDirectoryLockedError(_describe(holder, path, directory))
            if not _same_file(lock_file, path):  # Its previous owner removed it meanwhile: lock the new one.
                lock_file.close()
                continue
            if holder and holder.get("host") not in (None, socket.gethostname()):
                raise RunDirectoryLockedError(_describe(holder, path, directory))
            owner = {"host": socket.gethostname(), "pid": os.getpid(),
                     "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            lock_file.seek(0)
            lock_file.truncate()
            lock_file.write(json.dumps(owner))
            lock_file.flush()
            _HELD.add(os.path.realpath(directory))
            return lock_file
        except BaseException:
            lock_file.close()
            raise


def _try_flock(lock_file):
    """True once locked, False when another open file holds the lock, None without flock support."""
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return None
        raise


def _release(lock_file, path):
    _HELD.discard(os.path.realpath(os.path.dirname(path)))
    # Removed while still locked, so a process waiting on this file finds it replaced (_same_file).
    with contextlib.suppress(OSError):
        if _same_file(lock_file, path):
            os.remove(path)
    lock_file.close()


def _same_file(lock_file, path) -> bool:
    try:
        return os.path.samestat(os.fstat(lock_file.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _read(lock_file) -> dict | None:
    """The owner the file names, or None when it is empty or not an owner record (a write cut
    short by a full disk or a kill, or anything else)."""
    lock_file.seek(0)
    try:
        holder = json.loads(lock_file.read())
    except ValueError:
        return None
    if not isinstance(holder, dict) or not isinstance(holder.get("host"), str):
        return None
    return holder


def _alive_elsewhere(holder) -> bool:
    """Without flock: whether the file names a process that may still run (another host's, or a
    live pid of this host other than this process)."""
    if holder is None:
        return False
    if holder["host"] != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # Signal 0: only asks whether the process exists.
    except ProcessLookupError:
        return False
    except PermissionError:  # It exists, under another user.
        pass
    return True


def _describe(holder, path, directory):
    if holder is None:
        return (f"--model_dir={directory}: another training process holds its lock {path} (it names no "
                f"owner yet); wait for that process to end or choose another --model_dir")
    where = f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"
    if holder.get("host") == socket.gethostname():
        return (f"--model_dir={directory}: another training process ({where}) is using it; "
                f"wait for it to end or choose another --model_dir")
    return (f"--model_dir={directory}: a training process on another machine ({where}) holds {path}; "
            f"if that job has ended, delete the file")
