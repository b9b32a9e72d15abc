"""Export to a SavedModel: the model's variables and the task's serving signatures.

What the signatures take and answer is the task's (e.g. training/tasks/image_serving_signatures.py
for images); writing them so that a crash never leaves a half export in place is this file's.
"""

import os
import shutil

import tensorflow as tf

from core.storage_errors import StorageError, storage_error

EXPORT_DIRECTORY = "export"


def export_saved_model(model, directory, signatures) -> str:
    """Writes the SavedModel to `directory`, replacing an older export only once the new one is complete.

    Args:
      model: the Keras model or layer the signatures call.
      directory: where the SavedModel goes, e.g. <model_dir>/export.
      signatures: {name: tf.function with an input signature}; the first is also reachable as an
        attribute of the loaded object.

    Returns:
      `directory`.

    Raises:
      StorageError: when the disk refuses the export (full, read-only); nothing partial is left.
    """
    module = tf.Module()
    # Every variable explicitly: tf.train tracking misses layers a Keras model holds in lists.
    module.model_variables = list(model.variables)
    for index, function in enumerate(signatures.values()):
        setattr(module, f"signature_{index}", function)
    staging = directory + ".incomplete"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tf.saved_model.save(module, staging, signatures=dict(signatures))
    except BaseException as error:  # A full disk, a stop signal: no half export is left to fill the disk.
        shutil.rmtree(staging, ignore_errors=True)
        problem = storage_error(directory, error) if isinstance(error, Exception) else None
        if problem is None:
            raise
        raise StorageError(f"{problem}; the checkpoints and the task's report are kept, and the run "
                           "exports again when started again") from None
    previous = directory + ".previous"
    shutil.rmtree(previous, ignore_errors=True)
    if os.path.exists(directory):
        os.replace(directory, previous)
    os.replace(staging, directory)
    shutil.rmtree(previous, ignore_errors=True)
    return directory
