"""One line for a write that the disk refuses: full, read-only, or not ours.

A run writes its lock, run_config.json, checkpoints, the evaluation report and the export. On a
full disk TensorFlow raises ResourceExhaustedError from deep inside SaveV2, Python raises OSError
with errno ENOSPC; a read-only mount or a directory of another user gives EROFS or EACCES. Each
becomes StorageError, whose message names the path and what to do.
"""

import errno

_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space (or pick a --model_dir on another disk) "
                  "and run the same command again",
    errno.EDQUOT: "the disk quota is exhausted: free some space (or pick a --model_dir on another disk) "
                  "and run the same command again",
    errno.EROFS: "the file system is read-only: pick a writable --model_dir",
    errno.EACCES: "permission denied: pick a --model_dir this user can write",
    errno.EPERM: "permission denied: pick a --model_dir this user can write",
}


class StorageError(OSError):
    """A write was refused by the file system; the one-line message names the path and the remedy."""


def storage_error(path, error) -> StorageError | None:
    """The StorageError for `error` (an OSError or a TensorFlow error) writing `path`, or None when
    `error` is not a refusal by the file system (a bug keeps its traceback)."""
    if isinstance(error, StorageError):
        return error
    if isinstance(error, OSError):
        advice = _ADVICE.get(error.errno)
        return None if advice is None else StorageError(f"cannot write {path}: {advice}")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel  # The lock needs no TensorFlow.

    advice = None
    if isinstance(error, tf.errors.ResourceExhaustedError) and "space" in str(error).lower():
        advice = _ADVICE[errno.ENOSPC]  # SaveV2 on a full disk: "... No space left on device".
    elif isinstance(error, (tf.errors.PermissionDeniedError, tf.errors.FailedPreconditionError,
                            tf.errors.UnknownError)):
        text = str(error).lower()
        if "read-only file system" in text:
            advice = _ADVICE[errno.EROFS]
        elif "no space left" in text:
            advice = _ADVICE[errno.ENOSPC]
        elif "permission denied" in text:
            advice = _ADVICE[errno.EACCES]
    if advice is None:
        return None
    return StorageError(f"cannot write {path}: {advice}")
