"""Checkpoints of everything a run needs to continue exactly where it stopped.

TensorFlow writes a checkpoint's data under a temporary name and renames it into place before
it updates the `checkpoint` index file, so a process killed mid-save leaves the previous
checkpoint listed and readable.
"""

import tensorflow as tf


class TrainingCheckpoint:
    """Saves and restores a set of named trackables (model, optimizer, step, data iterator...).

    Args:
      directory: where checkpoints go; created if missing.
      max_to_keep: how many of the newest checkpoints to keep on disk.
      restore_directory: where to look for the checkpoint to restore, when not `directory`
        (a non-chief worker of a multi-worker job saves into a temporary directory but restores
        the chief's checkpoints; core/cluster.py).
      **trackables: the objects to save, by name. Optimizer slots must already exist (call
        `optimizer.build(model.trainable_variables)`) or their saved values are dropped.
    """

    def __init__(self, directory: str, max_to_keep: int = 3, restore_directory: str | None = None,
                 **trackables):
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep)
        self.restore_directory = restore_directory

    @property
    def latest_path(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore_latest(self) -> str | None:
        """Restores the newest checkpoint, if any, and returns its path.

        Raises:
          AssertionError (from TensorFlow) naming the objects that do not match the saved ones.
        """
        path = self.manager.latest_checkpoint
        if self.restore_directory is not None:
            path = tf.train.latest_checkpoint(self.restore_directory)
        if path is None:
            return None
        self.checkpoint.restore(path).assert_existing_objects_matched()
        return path

    def save(self, step: int) -> str:
        """Writes a checkpoint numbered `step` and deletes the oldest beyond `max_to_keep`."""
        return self.manager.save(checkpoint_number=step)
