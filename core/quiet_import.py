"""Import TensorFlow without its native start-up chatter on stderr.

TensorFlow's C++ side prints oneDNN and absl-initialization notices while it loads, before any
logging setting (TF_CPP_MIN_LOG_LEVEL included) applies. Scripts whose errors must be one
readable line import it through here. If the import fails, what it printed is replayed.
"""

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr_captured():
    """Sends file descriptor 2 to a temporary file; replays it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly():
    with native_stderr_captured():
        import tensorflow  # noqa: F401  # pylint: disable=unused-import,import-outside-toplevel
