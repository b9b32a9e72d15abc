"""One training process per run directory: a lock file that a second process is refused by.

Two trainers writing one `--model_dir` (a job started twice, a restart while the old process
still runs) interleave checkpoints and overwrite each other's run_config.json and summaries.
The lock is a file created with O_EXCL (atomic on local disks and NFS v3+) holding the owner's
host and pid. A lock left by a process that died without cleaning up (SIGKILL, a crash of the
machine) is taken over when its owner was on this host and no longer runs; an owner on another
host cannot be checked from here, so the error names the file to delete once that job is gone.

Object-store paths (gs://, s3://, ...) have no atomic create and are not locked.
"""

import contextlib
import datetime
import json
import os
import socket

LOCK_NAME = ".tapecraft.lock"


class RunDirectoryLockedError(RuntimeError):
    """Another live process trains in this directory; the message names it and the lock file."""


@contextlib.contextmanager
def run_directory_lock(directory: str):
    """Holds the directory's lock for the `with` block, then removes it.

    Raises:
      RunDirectoryLockedError: when another process on this host holds it, or a process on
        another host does (which this host cannot check).
    """
    if "://" in directory:
        yield None
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, LOCK_NAME)
    owner = {"host": socket.gethostname(), "pid": os.getpid(),
             "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    _create(path, owner, directory)
    try:
        yield path
    finally:
        if _read(path) == owner:  # Never remove a lock a later process took over.
            os.remove(path)


def _create(path, owner, directory):
    for _ in range(2):  # The second attempt follows the removal of a stale lock.
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder is not None and _is_stale(holder):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                continue
            raise RunDirectoryLockedError(_describe(holder, path, directory)) from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as lock_file:
            json.dump(owner, lock_file)
        return
    raise RunDirectoryLockedError(f"--model_dir={directory}: another process took its lock {path} first")


def _read(path):
    """The lock's owner, or None for a missing or half-written file."""
    try:
        with open(path, encoding="utf-8") as lock_file:
            return json.load(lock_file)
    except (FileNotFoundError, ValueError):
        return None


def _is_stale(holder):
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)  # Signal 0: only asks whether the process exists.
    except ProcessLookupError:
        return True
    except PermissionError:  # It exists, under another user.
        pass
    return False


def _describe(holder, path, directory):
    if holder is None:
        return (f"--model_dir={directory}: its lock {path} is being written by another process; "
                f"wait for it, or delete the file if no training uses this directory")
    where = f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"
    if holder.get("host") == socket.gethostname():
        return (f"--model_dir={directory}: another training process ({where}) is using it; "
                f"wait for it to end or choose another --model_dir")
    return (f"--model_dir={directory}: a training process on another machine ({where}) holds {path}; "
            f"if that job has ended, delete the file")
