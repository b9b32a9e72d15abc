"""The tf.data service's servers: one dispatcher, any number of workers, each served until a
stop signal (SIGTERM from a scheduler, Ctrl-C).

The dispatcher keeps the registered dataset graphs and the jobs and hands out splits; it does no
data work. A worker runs the dataset graphs it is given and sends batches to the training
processes. Both are TensorFlow's own servers (`tf.data.experimental.service`); this module starts
them from tapecraft's flags and stops them cleanly. The scripts are
training/data_service_dispatcher.py and training/data_service_worker.py.
"""

import errno
import signal
import socket
import threading

import tensorflow as tf

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ServerStartError(RuntimeError):
    """A server could not start (a port taken, an unusable work directory); one line."""


def check_port_free(port: int):
    """Raises ServerStartError when something already listens on `port`.

    gRPC servers bind with SO_REUSEPORT, so a second dispatcher or worker on a taken port would
    start and share the port with the first, each answering some requests. A plain socket
    (without that option) cannot bind a port a gRPC server holds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError as error:
            reason = "something already listens there" if error.errno == errno.EADDRINUSE else error.strerror
            raise ServerStartError(f"--port={port}: {reason}") from None


def start_dispatcher(port: int, work_dir: str = ""):
    """A running DispatchServer on `port`.

    Args:
      port: the port to serve on, on every interface; 0 for any free one (`server.target` has it).
      work_dir: with a directory, the dispatcher journals its state there before answering each
        request (fault-tolerant mode), so one restarted with the same directory recovers its
        datasets and jobs and the training runs carry on; empty: its state lives in memory only.

    Raises:
      ServerStartError: naming the flag when the port is taken or TensorFlow cannot start it.
    """
    check_port_free(port)
    config = tf.data.experimental.service.DispatcherConfig(
        port=port, work_dir=work_dir or None, fault_tolerant_mode=bool(work_dir))
    try:
        return tf.data.experimental.service.DispatchServer(config)
    except (tf.errors.OpError, RuntimeError, ValueError) as error:
        flag = f"--port={port} or --work_dir={work_dir!r}" if work_dir else f"--port={port}"
        raise ServerStartError(f"{flag}: the tf.data service dispatcher cannot start "
                               f"({_first_line(error)})") from None


def start_worker(dispatcher_address: str, port: int, host: str):
    """A running WorkerServer on `port`, registered with the dispatcher at `dispatcher_address`.

    Args:
      dispatcher_address: the dispatcher's host:port.
      port: the port to serve batches on; 0 for any free one.
      host: the name or address the training processes reach this machine by; the dispatcher
        gives it to them.

    Raises:
      ServerStartError: naming the flag when the port is taken or TensorFlow cannot start it.
    """
    check_port_free(port)
    config = tf.data.experimental.service.WorkerConfig(  # TensorFlow fills in "%port%".
        dispatcher_address=dispatcher_address, worker_address=f"{host}:{port or '%port%'}", port=port)
    try:
        return tf.data.experimental.service.WorkerServer(config)
    except (tf.errors.OpError, RuntimeError, ValueError) as error:
        raise ServerStartError(f"--port={port}: the tf.data service worker cannot start "
                               f"({_first_line(error)})") from None


def serve_until_stopped(server, poll_seconds: float = 0.5) -> str:
    """Serves until SIGTERM or SIGINT, then stops `server` and returns the signal's name.

    Python runs signal handlers only in the main thread between bytecodes, and a server's own
    `join()` blocks inside TensorFlow; so the main thread waits on an event the handler sets,
    waking every `poll_seconds`. The previous handlers are back when this returns.
    """
    received = []
    stopped = threading.Event()

    def handle(signum, _frame):
        received.append(signal.Signals(signum).name)
        stopped.set()

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        while not stopped.wait(poll_seconds):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    server.stop()
    return received[0]


def _first_line(error) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
