"""SIGTERM and SIGINT as requests to stop at the next loop boundary, after a checkpoint.

Schedulers (Kubernetes, Slurm, preemptible VMs) send SIGTERM and wait a grace period before
SIGKILL; a user presses Ctrl-C (SIGINT). Python runs a signal handler only when the main thread
gets back to Python, which during training is at the end of the current compiled loop, so the
handler just records the request and the loop saves and stops there. The first signal restores
the previous handlers: a second Ctrl-C interrupts at once, as Python normally does.
"""

import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(Exception):
    """Training stopped on a signal after saving; the message says where and how to resume."""

    def __init__(self, message, step, checkpoint_path):
        super().__init__(message)
        self.step = step
        self.checkpoint_path = checkpoint_path


class StopRequests:
    """A context manager that turns STOP_SIGNALS into a flag while it is active.

    Outside the main thread Python cannot install handlers; there it does nothing.

    Attributes:
      signal_name: "SIGTERM" or "SIGINT" once one arrived, else None.
    """

    def __init__(self):
        self.signal_name = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._request_stop)
        return self

    def __exit__(self, *exception_info):
        self._restore_handlers()
        return False

    def _request_stop(self, number, frame):
        del frame  # Unused: the loop checks the flag at its next boundary.
        self.signal_name = signal.Signals(number).name
        self._restore_handlers()

    def _restore_handlers(self):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}


def stopped_message(signal_name, step, checkpoint_path) -> str:
    """The line a stopped run prints."""
    return (f"Stopped by {signal_name} at step {step}; saved {checkpoint_path}. "
            "Run the same command again to resume from there.")
