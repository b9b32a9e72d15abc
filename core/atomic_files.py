"""Files written whole or not at all: under a temporary name, then renamed into place."""

import contextlib
import os

from core.storage_errors import storage_error


def write_atomically(path, write):
    """Calls `write(temporary_path)`, then renames the file to `path`.

    A full disk, a stop or an error leaves the previous file (or none), never half of one, and no
    temporary file.

    Raises:
      StorageError: naming `path` when the disk refuses it (full, read-only).
    """
    temporary = f"{path}.tmp-{os.getpid()}{os.path.splitext(path)[1]}"  # Keeps the extension matplotlib reads.
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OSError):
            raise (storage_error(path, error) or error) from None
        raise
