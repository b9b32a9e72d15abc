"""Test-session setup shared by every test file."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from core.distribution import configure_logical_cpus  # noqa: E402

# Two logical CPU devices let multi-replica code (MirroredStrategy) run on a machine without
# GPUs. TensorFlow fixes its devices when it first runs an op, so this must happen at import.
configure_logical_cpus(2)


@pytest.fixture(autouse=True)
def _restore_global_dtype_policy():
    """Tests that change the global Keras policy cannot leak it into the next test."""
    policy = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(policy)
