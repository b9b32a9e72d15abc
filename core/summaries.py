"""TensorBoard scalars and hyperparameters, written at loop boundaries so the compiled loop never
waits on the host.

A directory TensorBoard's writer cannot use (read-only, another user's, a file in its place)
fails when the writer is created or flushed, with TensorFlow's error naming no path; it becomes
one StorageError naming the directory.
"""

import contextlib
import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from core.storage_errors import StorageError, storage_error


class SummaryWriter:
    """Writes under `logdir/<name>` (`logdir` itself for name ""); a disabled writer (non-chief
    workers) does nothing.

    Raises:
      StorageError: naming the directory, when it cannot be written.
    """

    def __init__(self, logdir: str, name: str, enabled: bool = True):
        self.directory = os.path.join(logdir, name) if name else logdir
        self._writer = None
        if enabled:
            with self._storage_errors():
                self._writer = tf.summary.create_file_writer(self.directory)

    def scalars(self, step: int, values: dict):
        if self._writer is None:
            return
        with self._storage_errors(), self._writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.scalar(tag, value)
            self._writer.flush()

    def hyperparameters(self, values: dict):
        """Records `values` ({name: bool, int, float or str}) as this run's hyperparameters: one row of
        TensorBoard's HParams table, whose metric columns are the scalars of this run's directories."""
        if self._writer is None:
            return
        with self._storage_errors(), self._writer.as_default():
            hparams_api.hparams(values)
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            with self._storage_errors():
                self._writer.close()

    @contextlib.contextmanager
    def _storage_errors(self):
        """Turns a refused write of TensorBoard events into StorageError naming the directory."""
        try:
            yield
        except (tf.errors.OpError, OSError) as error:
            known = storage_error(self.directory, error)
            if known is not None:
                raise known from None
            reason = (getattr(error, "message", None) or str(error)).strip().splitlines()[0]
            raise StorageError(f"cannot write TensorBoard events to {self.directory}: {reason}; pick a "
                               "writable --model_dir") from None
