"""tf.data service servers for tests, on 127.0.0.1: in this process, or a worker as a subprocess
(`python -m training.data_service_worker`) that a test can kill."""

import contextlib
import os
import socket
import subprocess
import sys

from core.data_service_servers import start_dispatcher, start_worker

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    """A port nothing listens on now (another process could take it before we do; unlikely)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_service(num_workers: int):
    """A dispatcher and `num_workers` workers in this process; yields the dispatcher's host:port."""
    port = free_port()
    dispatcher = start_dispatcher(port)
    address = f"127.0.0.1:{port}"
    workers = [start_worker(address, free_port(), "127.0.0.1") for _ in range(num_workers)]
    try:
        yield address
    finally:
        for server in workers + [dispatcher]:
            server.stop()


def start_worker_process(dispatcher_address: str) -> subprocess.Popen:
    """`python -m training.data_service_worker` for `dispatcher_address`, its output piped."""
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "training.data_service_worker",
                             f"--dispatcher=grpc://{dispatcher_address}", f"--port={free_port()}",
                             "--host=127.0.0.1"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until_serving(process: subprocess.Popen) -> str:
    """The worker's first line, read once it serves (it has registered with the dispatcher)."""
    line = process.stdout.readline()
    if not line.startswith("tf.data service worker serving at"):
        process.kill()
        raise AssertionError(f"the worker did not start: {line!r} {process.stderr.read()[-2000:]}")
    return line
