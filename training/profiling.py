"""The profiler window (`--profile_steps=START,END`) and the named host events a trace shows.

The trace goes where TensorBoard's Profile tab looks for it: `tf.profiler.experimental.start(logdir)`
writes `<logdir>/plugins/profile/<session>/<host>.xplane.pb`, and the run passes its training
summaries' directory, `<model_dir>/train` (as Keras' TensorBoard callback does with `profile_batch`).
Viewing it needs the `tensorboard-plugin-profile` package (setup.cfg's `profile` extra); taking it
needs only TensorFlow. `python -m benchmarks.op_profile --run_dir=<model_dir>` summarizes it.

A compiled loop runs many steps per host call, so the profiler can only start and stop between
calls: the loop is cut at step START - 1 and at step END (training/loop.py), and the trace covers
exactly the steps START..END (counted from 1, both included), then the host's work at step END's
boundary (summaries, evaluation, checkpoint): it stops when the next loop call begins or the run
ends. The host events name what the run does: `training_loop` (a step marker, `step_num` = its first
step, so the Profile tab's step-time graph shows one bar per loop call), `evaluate` and `checkpoint`.
"""

import contextlib
import glob
import os

import tensorflow as tf

PROFILE_SUBDIRECTORY = os.path.join("plugins", "profile")


def parse_profile_steps(text: str, train_steps: int):
    """(START, END) of `--profile_steps`, or None when it is empty.

    Raises:
      ValueError: saying what is wrong (not two integers, reversed, outside 1..train_steps).
    """
    if not isinstance(text, str):
        raise ValueError("must be two steps START,END, e.g. 10,20")
    if not text.strip():
        return None
    parts = text.split(",")
    try:
        start, end = (int(part) for part in parts)
    except ValueError:
        raise ValueError("must be two steps START,END, e.g. 10,20") from None
    if start > end:
        raise ValueError(f"START {start} is after END {end}; give them in order")
    if start < 1 or end > train_steps:
        raise ValueError(f"steps {start}..{end} are outside the run's steps 1..{train_steps} "
                         f"(--train_steps={train_steps})")
    return start, end


def profile_edges(config):
    """The steps where the loop must stop so the profiler can start or stop: () without a window."""
    window = parse_profile_steps(config.profile_steps, config.train_steps)
    return () if window is None else (window[0] - 1, window[1])


class ProfileWindow:
    """Starts the profiler before the loop call that runs step START and stops it before the loop
    call after step END.

    Args:
      config: the TrainConfig (`profile_steps`, `train_steps`, `model_dir`).
      log: receives one line when the trace starts and where it was written.
      enabled: False on the non-chief workers of a multi-worker job, which trace nothing.
    """

    def __init__(self, config, log, enabled=True):
        self._window = parse_profile_steps(config.profile_steps, config.train_steps) if enabled else None
        self.logdir = os.path.join(config.model_dir, "train")
        self._log = log
        self._active = False

    def before_loop(self, step):
        """Called with the global step before a loop call: starts the trace when step START is next,
        stops it once step END has run. A run resumed inside the window traces what is left of it.

        Returns:
          True when the profiler started or stopped (writing the trace takes a while: the caller
          leaves that time out of the throughput).
        """
        if self._window is None:
            return False
        start, end = self._window
        if self._active and step >= end:
            self.stop()
            return True
        if not self._active and start - 1 <= step < end:
            tf.profiler.experimental.start(self.logdir)
            self._active = True
            self._log(f"Profiling steps {step + 1}..{end} into {self.logdir}")
            return True
        return False

    def stop(self):
        """Stops and writes the trace (also when the run ends early: a stop signal, NaN, an error)."""
        if self._active:
            self._active = False
            tf.profiler.experimental.stop()
            self._log(f"Wrote the profile to {os.path.join(self.logdir, PROFILE_SUBDIRECTORY)} "
                      "(TensorBoard's Profile tab)")
            self._window = None  # One window per phase.


def traced(name, **metadata):
    """A named host event in the trace (a no-op context when no profiler runs, costing ~1 us)."""
    return tf.profiler.experimental.Trace(name, **metadata)


def training_loop_event(step, steps):
    """The event around one loop call: a step marker (`_r=1`) numbered by its first step."""
    return tf.profiler.experimental.Trace("training_loop", step_num=step + 1, steps=steps, _r=1)


def trace_files(run_directory) -> list:
    """The profiler traces under a run directory, newest last: [.../plugins/profile/<session>/*.xplane.pb].

    Sessions are named by their start time (YYYY_MM_DD_HH_MM_SS), so sorting orders them.
    """
    pattern = os.path.join(run_directory, "**", PROFILE_SUBDIRECTORY, "*", "*.xplane.pb")
    return sorted(glob.glob(pattern, recursive=True),
                  key=lambda path: (os.path.basename(os.path.dirname(path)), path))


@contextlib.contextmanager
def stopped_on_exit(window):
    """Stops `window`'s trace however the loop ends, so a failed run still leaves a readable trace."""
    try:
        yield window
    finally:
        window.stop()
