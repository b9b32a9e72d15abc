"""One training process per run directory: refused while held, taken over when its owner died."""

import errno
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from core.run_lock import (LOCK_NAME, RunDirectoryLockedError, deferred_release, run_directory_in_use,
                           run_directory_lock)


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


def test_a_lock_file_replaced_meanwhile_is_not_removed_by_the_first_owner(tmp_path):
    with run_directory_lock(str(tmp_path)) as path:
        os.remove(path)  # As if someone had deleted it by hand and another process had locked a new one.
        with open(path, "w") as lock_file:
            json.dump({"host": "elsewhere", "pid": 1, "started": "now"}, lock_file)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["host"] == "elsewhere"


def test_a_lock_naming_this_very_pid_is_stale_not_ours(tmp_path):
    # A killed trainer restarted with the same pid (PID 1 of a restarted container): the file names
    # this process, but no process holds the OS lock.
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                                  "started": "2026-01-01T00:00:00+00:00"}))
    with run_directory_lock(str(tmp_path)) as path:
        assert json.loads(open(path).read())["started"] != "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize("contents", ["", "[]", '{"host": "%s", "pid": "abc"}' % socket.gethostname(),
                                      '{"host": "%s"}' % socket.gethostname(), '{"pid": 12}', "\x00\x00{"])
def test_an_empty_or_malformed_lock_left_behind_is_taken_over(tmp_path, contents):
    # "": the write of a lock on a full disk; the rest: anything else a file can hold.
    (tmp_path / LOCK_NAME).write_text(contents)
    with run_directory_lock(str(tmp_path)) as path:
        assert json.loads(open(path).read())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_holder_that_wrote_nothing_yet_is_still_refused(tmp_path):
    with open(tmp_path / LOCK_NAME, "w") as holder:  # Another open file: another holder to flock.
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        with pytest.raises(RunDirectoryLockedError, match=r"another training process holds its lock .* \(it "
                                                          r"names no owner yet\); wait for that process"):
            with run_directory_lock(str(tmp_path)):
                pass


def test_deferred_release_holds_the_lock_until_its_block_ends(tmp_path):
    directory = str(tmp_path / "run")
    with deferred_release():
        with run_directory_lock(directory) as path:
            pass
        assert os.path.exists(path)
        with pytest.raises(RunDirectoryLockedError):
            with run_directory_lock(directory):
                pass
    assert not os.path.exists(path)
    with run_directory_lock(directory):
        pass


_UNSHARE = shutil.which("unshare")
_TAKE_LOCK_AND_DIE = """
import os, sys
from core.run_lock import run_directory_lock
with run_directory_lock(sys.argv[1]):
    print(os.getpid())
    os._exit(0)  # Like SIGKILL: no cleanup; the lock file stays behind naming this pid.
"""


def _in_new_pid_namespace(directory):
    return subprocess.run([_UNSHARE, "--pid", "--fork", "--mount-proc", sys.executable, "-c", _TAKE_LOCK_AND_DIE,
                           directory], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_a_trainer_coming_back_as_pid_1_of_a_new_container_is_not_locked_out(tmp_path):
    if _UNSHARE is None:
        pytest.skip("needs util-linux unshare for a new pid namespace")
    probe = subprocess.run([_UNSHARE, "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode:
        pytest.skip(f"cannot create a pid namespace here (needs root or user namespaces): "
                    f"{probe.stderr.decode().strip()}")
    first = _in_new_pid_namespace(str(tmp_path))
    assert (first.returncode, first.stdout.strip()) == (0, "1"), first.stderr
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == 1  # Left behind, naming pid 1.
    second = _in_new_pid_namespace(str(tmp_path))
    assert (second.returncode, second.stdout.strip()) == (0, "1"), second.stderr


def test_object_store_paths_are_not_locked():
    with run_directory_lock("gs://bucket/run") as path:
        assert path is None


def test_without_flock_support_the_host_and_pid_decide(tmp_path, monkeypatch):
    def unsupported(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": sleeper.pid,
                                                      "started": "then"}))
        with pytest.raises(RunDirectoryLockedError, match=rf"another training process \(pid {sleeper.pid} on host"):
            with run_directory_lock(str(tmp_path)):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with run_directory_lock(str(tmp_path)) as path:  # Its owner is gone now.
        assert json.loads(open(path).read())["pid"] == os.getpid()


def test_an_evaluation_job_asks_whether_a_trainer_holds_the_directory_without_taking_it(tmp_path):
    directory = str(tmp_path)
    assert not run_directory_in_use(directory)  # No lock file: released, or never taken.
    with run_directory_lock(directory):
        assert run_directory_in_use(directory)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "started": "then"}))
    assert not run_directory_in_use(directory)  # A SIGKILLed trainer's file.
    (tmp_path / LOCK_NAME).write_text("")
    with open(tmp_path / LOCK_NAME) as holder:  # A trainer that has locked but written nothing yet.
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        assert run_directory_in_use(directory)
    assert not run_directory_in_use(directory)
    with run_directory_lock(directory):  # The probes left the lock free to take.
        pass
