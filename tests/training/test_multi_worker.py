"""MultiWorkerMirroredStrategy for real: two worker processes on 127.0.0.1, gRPC between them.

Costly by nature (each worker process imports TensorFlow, ~5-20 s on a busy 2-core machine):
one job is started, has a worker killed, and is started again, about 90 s in all. Every wait
has a timeout, and every process is killed with its process group when the fixture ends, so no
worker outlives the tests.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from training import TrainConfig, train_and_evaluate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(REPO, "tests", "training", "multi_worker_job.py")
JOB_TIMEOUT = 240  # Seconds for a whole two-worker job: TensorFlow imports dominate.
FAILURE_TIMEOUT = 60  # Seconds for the survivor to notice a dead peer (heartbeats: ~10 s) and exit.
# 300 steps of 64 digits each: ~6 s of training, long enough to kill a worker mid-run.
SETTINGS = dict(model="mlp", dataset="digits", train_steps=300, warmup_steps=10, steps_per_loop=25,
                eval_every=50, checkpoint_every=50, batch_size=64, learning_rate=3e-3, precision="float32",
                seed=3)


def _flags(settings):
    return [f"--{name}={value}" for name, value in settings.items()]


def _free_loopback_ports(count):
    """Ports the kernel reports free on 127.0.0.1 (released again before the workers bind them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for listener in sockets:
            listener.bind(("127.0.0.1", 0))
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


class Job:
    """Two worker processes of one training job, with their output in files."""

    def __init__(self, directory, model_dir, settings=SETTINGS):
        directory.mkdir(parents=True, exist_ok=True)
        hosts = ",".join(f"127.0.0.1:{port}" for port in _free_loopback_ports(2))
        self.directory = directory
        self.processes = []
        # Unbuffered, so the test sees progress lines as they are written.
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("TF_CONFIG", None)
        for index in range(2):
            command = [sys.executable, WORKER, str(directory / f"weights{index}.npz"), *_flags(settings),
                       f"--model_dir={model_dir}", "--distribution_strategy=multi_worker",
                       f"--worker_hosts={hosts}", f"--task_index={index}"]
            # Its own session: killing the process group leaves nothing of the worker behind.
            stdout, stderr = directory / f"stdout{index}", directory / f"stderr{index}"
            with open(stdout, "w") as out, open(stderr, "w") as err:
                self.processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err,
                                                       start_new_session=True))

    def stdout(self, index):
        return (self.directory / f"stdout{index}").read_text()

    def stderr_lines(self, index):
        return [line for line in (self.directory / f"stderr{index}").read_text().splitlines() if line.strip()]

    def weights(self, index):
        with np.load(self.directory / f"weights{index}.npz") as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def wait(self, timeout):
        """Waits for both workers; returns their exit codes. Kills both and fails on timeout."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"a worker still ran after {timeout} s (hang): {self.stderr_lines(0)[-3:]}")
        return [process.returncode for process in self.processes]

    def wait_for_line(self, index, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.stdout(index):
            if time.monotonic() > deadline or self.processes[index].poll() is not None:
                self.kill()
                pytest.fail(f"worker {index} never printed {text!r}; stdout: {self.stdout(index)[-500:]}")
            time.sleep(0.1)

    def live_process_groups(self):
        """Indices of the workers whose process group still holds a live process. Once a worker has
        exited (and been reaped), anything left in its group is an orphan it left behind."""
        alive = []
        for index, process in enumerate(self.processes):
            try:
                os.killpg(process.pid, 0)  # Signal 0: only asks whether the group has a member.
            except ProcessLookupError:
                continue
            except PermissionError:
                pass  # A member exists, owned by someone else.
            alive.append(index)
        return alive

    def kill(self, index=None):
        for process in self.processes if index is None else [self.processes[index]]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def interrupted_then_resumed(tmp_path_factory):
    """A job whose non-chief worker is killed after the first checkpoint, then the job restarted.

    Returns (first job, restarted job); every process is dead when the fixture returns. Each job's
    `orphans` lists the workers whose process group still had a live process when the job had
    ended by itself, recorded before this fixture kills whatever is left.
    """
    directory = tmp_path_factory.mktemp("multi_worker")
    first = Job(directory / "first", directory / "run")
    restarted = None
    try:
        first.wait_for_line(0, "Saved checkpoint", timeout=JOB_TIMEOUT)
        first.kill(1)
        first.wait(FAILURE_TIMEOUT)  # Fails the tests if the survivor does not exit by itself.
        first.orphans = first.live_process_groups()
        restarted = Job(directory / "restarted", directory / "run")
        restarted.wait(JOB_TIMEOUT)
        restarted.orphans = restarted.live_process_groups()
    finally:
        for job in (first, restarted):
            if job is not None:
                job.kill()
    return first, restarted


def test_a_killed_worker_fails_the_job_cleanly_within_a_timeout(interrupted_then_resumed):
    first, restarted = interrupted_then_resumed
    # The survivor exited by itself with the script's error status: a SIGKILL from this test
    # would show as -9, and a hang fails the fixture's wait.
    assert first.processes[0].returncode == 1
    assert first.orphans == []  # Nothing of the survivor's (or the killed worker's) process group lives on.
    errors = first.stderr_lines(0)
    # Which error arrives first varies: the dead peer's closed socket or its missing heartbeats.
    # Both name the task; the fallback covers an error that does not.
    lost = "error: the multi-worker job lost a worker"
    named = (f"{lost} (/job:worker/replica:0/task:1)", f"{lost} (a peer stopped responding)")
    assert errors[-1].startswith(named), errors[-5:]
    assert f"resume from the last checkpoint in {first.directory.parent / 'run'}" in errors[-1]
    assert not any(line.startswith("Traceback") for line in errors)


def test_a_restarted_job_resumes_and_both_workers_end_with_identical_weights(interrupted_then_resumed):
    first, job = interrupted_then_resumed
    assert [process.returncode for process in job.processes] == [0, 0], job.stderr_lines(0)[-5:]
    assert job.orphans == []
    resumed = [line for line in job.stdout(0).splitlines() if line.startswith("Resumed from")]
    saved_before_kill = int(first.stdout(0).split("Saved checkpoint")[1].split("ckpt-")[1].split()[0])
    assert resumed and "input replayed to step" in resumed[0], job.stdout(0)[:500]
    assert int(resumed[0].split("at step ")[1].split(";")[0]) >= saved_before_kill
    for a, b in zip(job.weights(0), job.weights(1)):
        np.testing.assert_array_equal(a, b)  # Both apply the same all-reduced update to the same weights.
    assert "Test accuracy: " in job.stdout(0) and "Test accuracy" not in job.stdout(1)
    assert "Saved checkpoint" in job.stdout(0) and "Saved checkpoint" not in job.stdout(1)
    assert "Exported for serving" in job.stdout(0) and "Exported for serving" not in job.stdout(1)
    run = job.directory.parent / "run"
    assert (run / "ckpt-300.index").exists() and (run / "export" / "saved_model.pb").exists()
    assert not [path.name for path in run.iterdir() if path.name.startswith("temporary_")]
    assert len(list((run / "train").glob("events.out.tfevents.*"))) == 2  # The chief's, one per start.


def test_the_chiefs_checkpoint_restores_in_a_single_process_run(interrupted_then_resumed):
    _, job = interrupted_then_resumed
    lines = []
    # The job has finished, so this run restores the final checkpoint and only evaluates.
    restored = train_and_evaluate(TrainConfig(**SETTINGS, model_dir=str(job.directory.parent / "run")),
                                  log=lines.append)
    assert any(line.startswith("Resumed from") and "at step 300" in line for line in lines)
    for a, b in zip(job.weights(0), [variable.numpy() for variable in restored.model.variables]):
        np.testing.assert_array_equal(a, b)
    reported = float(job.stdout(0).split("Test accuracy: ")[1].split()[0])
    assert restored.test_accuracy == pytest.approx(reported, abs=1e-4)  # Printed with 4 decimals.


def test_the_resumed_job_trained_the_same_weights_as_one_replica_with_the_global_batch(
        interrupted_then_resumed, tmp_path):
    _, job = interrupted_then_resumed
    single = train_and_evaluate(TrainConfig(**SETTINGS, jit_compile="false", model_dir=str(tmp_path)),
                                log=lambda line: None)
    # Same examples per step (core/distributed_input.py), across the kill and the replay; only
    # float32 summation order differs (each worker sums half the batch), which 300 Adam steps
    # amplify in a few coordinates with tiny second moments (one element of 32768 differed by 1%
    # when op determinism had changed the kernels). Per variable the difference measured at most
    # ~1e-4 of the weights' norm; a run with a doubled learning rate differs by 23-97%.
    for a, b in zip(job.weights(0), [variable.numpy() for variable in single.model.variables]):
        assert np.linalg.norm(a - b) <= 1e-3 * np.linalg.norm(b)


def test_the_orphan_check_sees_a_process_a_worker_left_behind():
    """live_process_groups() can fail the tests above: a stand-in worker that starts a sleeper in
    its process group and exits is reported (plain Python, no TensorFlow: ~0.1 s)."""
    sleeper = "import time; time.sleep(60)"
    starts_sleeper = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleeper!r}])"
    leaver = subprocess.Popen([sys.executable, "-c", starts_sleeper], start_new_session=True)
    job = Job.__new__(Job)  # Only its processes matter here.
    job.processes = [leaver]
    try:
        assert leaver.wait(timeout=30) == 0
        assert job.live_process_groups() == [0]
    finally:
        os.killpg(leaver.pid, signal.SIGKILL)
