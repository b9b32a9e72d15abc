"""Two logical CPU devices for the conformance kit's MirroredStrategy check.

They must exist before TensorFlow initializes, i.e. before any test runs an op. A root
tests/conftest.py doing the same makes this a no-op (the call is idempotent).
"""

from core.distribution import configure_logical_cpus

configure_logical_cpus(2)
