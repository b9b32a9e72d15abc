"""What a checkpoint save leaves behind when it is killed or refused by the disk.

TensorFlow's save writes `<prefix>-N_temp/` (renamed away at the end) and rewrites the state file
through `<state_file>.tmp<random>`. A kill leaves them behind, never to be read; a full disk leaves
them half written. Both kinds are removed here, by name patterns only.
"""

import contextlib
import glob
import os
import shutil


def remove_interrupted_saves(directory, prefix, state_file) -> list:
    """Deletes what saves killed midway left in `directory`, and returns their names.

    Call only while no other process saves there (the run-directory lock).
    """
    leftovers = glob.glob(os.path.join(directory, f"{prefix}-*_temp")) + glob.glob(
        os.path.join(directory, f"{state_file}.tmp*"))
    return _delete(leftovers)


def remove_partial_save(directory, step, prefix, state_file) -> list:
    """Deletes the files a failed save of `step` wrote, unless its index made it whole."""
    checkpoint = os.path.join(directory, f"{prefix}-{step}")
    partial = glob.glob(checkpoint + "_temp") + glob.glob(os.path.join(directory, f"{state_file}.tmp*"))
    if not os.path.exists(checkpoint + ".index"):  # Written last: with it, the data are whole.
        partial += glob.glob(checkpoint + ".data-*") + glob.glob(checkpoint + ".index.tmp*")
    return _delete(partial)


def _delete(paths) -> list:
    """Removes files and directories, and returns their base names, sorted."""
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(path)
    return sorted(os.path.basename(path) for path in paths)
