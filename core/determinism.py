"""Asking whether TensorFlow's op determinism is on, and switching it off again.

`--deterministic` switches op determinism on for the whole process; a run puts back the setting it
found, so a caller's later work (another run in a notebook, a sweep) is not made deterministic
behind its back. TensorFlow 2.21 exports only `tf.config.experimental.enable_op_determinism`: the
query and the switch-off live in its private `tensorflow.python.framework.config`
(`is_op_determinism_enabled`, `disable_op_determinism`). tests/test_private_apis.py fails, naming
them, the day a release moves them. Until then a run on such a release still trains; only the
switch-off is skipped (determinism a run turned on stays on in that process), logged once.
"""

from absl import logging
import tensorflow as tf

try:  # Private: see the module docstring.
    from tensorflow.python.framework import config as _framework_config
except ImportError:
    _framework_config = None

_PRIVATE_FUNCTIONS = ("is_op_determinism_enabled", "disable_op_determinism")
_missing_logged = []


def _private_function(name):
    function = getattr(_framework_config, name, None)
    if function is None and not _missing_logged:
        _missing_logged.append(name)
        logging.warning("TensorFlow %s has no tensorflow.python.framework.config.%s: op determinism a "
                        "run switches on (--deterministic) stays on for the rest of this process",
                        tf.__version__, name)
    return function


def is_op_determinism_enabled() -> bool:
    """Whether op determinism is on; False when this TensorFlow cannot say (logged once)."""
    query = _private_function("is_op_determinism_enabled")
    return bool(query()) if query is not None else False


def disable_op_determinism() -> bool:
    """Switches op determinism off; returns False, doing nothing, when this TensorFlow cannot."""
    switch_off = _private_function("disable_op_determinism")
    if switch_off is None:
        return False
    switch_off()
    return True
