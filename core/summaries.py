"""TensorBoard scalars, written at loop boundaries so the compiled loop never waits on the host."""

import os

import tensorflow as tf


class SummaryWriter:
    """Writes scalars under `logdir/<name>`; a disabled writer (non-chief workers) does nothing."""

    def __init__(self, logdir: str, name: str, enabled: bool = True):
        self._writer = tf.summary.create_file_writer(os.path.join(logdir, name)) if enabled else None

    def scalars(self, step: int, values: dict):
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.scalar(tag, value)
        self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
