"""SIGTERM and SIGINT: a clean, resumable stop in every phase of a run.

Schedulers (Kubernetes, Slurm, preemptible VMs) send SIGTERM and wait a grace period before
SIGKILL; a user presses Ctrl-C (SIGINT). During training (`StopRequests`) a signal is a request:
Python runs a signal handler only when the main thread gets back to Python, which is at the end
of the current compiled loop, so the handler just records it and the loop saves and stops there.
Outside the loop (start-up, the final evaluation, the report, the export; `stop_on_signals`)
there is nothing to save that a rerun would not redo, so a signal stops the run at once with
StopSignal: locks are released and partial outputs removed on the way out, and the script says
where the run stands. The first signal restores the previous handlers: a second Ctrl-C
interrupts at once, as Python normally does.
"""

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(Exception):
    """Training stopped on a signal after saving; the message says where and how to resume."""

    def __init__(self, message, step, checkpoint_path):
        super().__init__(message)
        self.step = step
        self.checkpoint_path = checkpoint_path


class StopSignal(BaseException):
    """A stop signal arrived outside the training loop. A BaseException, like KeyboardInterrupt,
    so that no `except Exception` on the way out mistakes it for an error to handle.

    Attributes:
      signal_name: "SIGTERM" or "SIGINT".
    """

    def __init__(self, signal_name):
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name


@contextlib.contextmanager
def stop_on_signals():
    """While active, STOP_SIGNALS raise StopSignal in the main thread wherever it is.

    A `StopRequests` block inside (the training loop) turns them into requests instead. Outside
    the main thread Python cannot install handlers; there it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def restore():
        for number, handler in previous.items():
            signal.signal(number, handler)
        previous.clear()

    def stop_now(number, frame):
        del frame  # Unused: the exception unwinds from wherever the main thread is.
        restore()
        raise StopSignal(signal.Signals(number).name)

    for number in STOP_SIGNALS:
        previous[number] = signal.signal(number, stop_now)
    try:
        yield
    finally:
        restore()


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


def stopped_outside_training_message(signal_name, newest_checkpoint) -> str:
    """The line a run stopped outside its training loop prints, given its newest checkpoint or None."""
    if newest_checkpoint is None:
        return (f"Stopped by {signal_name} before the first checkpoint; nothing to resume. Run the same "
                "command again to start.")
    return (f"Stopped by {signal_name}; the newest checkpoint is {newest_checkpoint}. Run the same command "
            "again to resume from there (a finished training only evaluates, reports and exports again).")
