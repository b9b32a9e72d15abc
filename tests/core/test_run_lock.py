"""One training process per run directory: refused while held, taken over when its owner died."""

import json
import os
import socket
import subprocess
import sys

import pytest

from core.run_lock import LOCK_NAME, RunDirectoryLockedError, run_directory_lock


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_holder_is_refused_and_the_lock_goes_with_the_first(tmp_path):
    directory = str(tmp_path / "run")
    with run_directory_lock(directory) as path:
        owner = json.loads(open(path).read())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(RunDirectoryLockedError, match=rf"--model_dir={directory}: another training process "
                                                          rf"\(pid {os.getpid()} on host"):
            with run_directory_lock(directory):
                pass
    assert not os.path.exists(path)
    with run_directory_lock(directory):  # Free again.
        pass


def test_the_lock_is_released_when_training_raises(tmp_path):
    with pytest.raises(KeyError):
        with run_directory_lock(str(tmp_path)):
            raise KeyError("crash")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_dead_owners_lock_on_this_host_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(),
                                                  "started": "2026-01-01T00:00:00+00:00"}))
    with run_directory_lock(str(tmp_path)) as path:
        assert json.loads(open(path).read())["pid"] == os.getpid()


def test_another_hosts_lock_is_not_guessed_at(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": "then"}))
    with pytest.raises(RunDirectoryLockedError, match=r"on another machine \(pid 1 on host elsewhere.*if that job "
                                                      r"has ended, delete the file"):
        with run_directory_lock(str(tmp_path)):
            pass
    assert (tmp_path / LOCK_NAME).exists()  # Left for its owner.


def test_a_lock_taken_over_by_another_process_is_not_removed_by_the_first(tmp_path):
    with run_directory_lock(str(tmp_path)) as path:
        with open(path, "w") as lock_file:  # As if another process had taken over a stale lock.
            json.dump({"host": "elsewhere", "pid": 1, "started": "now"}, lock_file)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["host"] == "elsewhere"


def test_object_store_paths_are_not_locked():
    with run_directory_lock("gs://bucket/run") as path:
        assert path is None
