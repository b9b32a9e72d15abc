"""Numeric comparison of two outputs with a tolerance that depends on the compute dtype."""

import numpy as np
import tensorflow as tf

from layers.conformance.errors import CheckFailed

# (rtol, atol) per compute dtype. atol is scaled by max(1, max|expected|), so a layer whose
# outputs are in the hundreds is held to the same number of significant digits. float32
# leaves room for XLA's and oneDNN's different summation orders; the half types have 11
# (float16) and 8 (bfloat16) significand bits, and differently fused kernels round
# intermediate values at different places.
TOLERANCES = {
    "float32": (1e-5, 1e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (5e-2, 5e-2),
}


def to_numpy(value):
    """A float64 numpy copy of a tensor (float64 so half-precision values compare exactly)."""
    if isinstance(value, tf.IndexedSlices):  # The gradient of an embedding lookup.
        value = value.values
    return np.asarray(value).astype(np.float64)


def assert_outputs_close(actual, expected, dtype, what):
    """Raises CheckFailed when `actual` differs from `expected` beyond `dtype`'s tolerance.

    Args:
      actual, expected: tensors or arrays of the same shape.
      dtype: the compute dtype name that selects the tolerance.
      what: a phrase naming the two outputs, e.g. "tf.function output vs eager output".

    Returns:
      What was compared, e.g. "64 values within the float32 tolerance (max |difference| 2.4e-07)".
    """
    actual, expected = to_numpy(actual), to_numpy(expected)
    if actual.shape != expected.shape:
        raise CheckFailed(f"{what}: shapes differ, {actual.shape} vs {expected.shape}")
    rtol, atol = TOLERANCES.get(str(dtype), TOLERANCES["float32"])
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
    difference = np.abs(actual - expected)
    allowed = atol * scale + rtol * np.abs(expected)
    # Non-finite values agree when both sides have the same one: finiteness is the
    # mixed_precision check's business, agreement is this one's.
    both_nan = np.isnan(actual) & np.isnan(expected)
    same_non_finite = ~np.isfinite(expected) & ((actual == expected) | both_nan)
    bad = ~((difference <= allowed) | same_non_finite)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(
            f"{what}: {int(bad.sum())} of {bad.size} values differ beyond the {dtype} tolerance "
            f"(rtol {rtol:g}, atol {atol:g} x {scale:.3g}); max |difference| {np.nanmax(difference):.3g}; "
            f"first at index {index}: {actual[index]:.6g} vs {expected[index]:.6g}")
    largest = float(np.nanmax(difference)) if difference.size else 0.0
    return f"{difference.size} values within the {dtype} tolerance (max |difference| {largest:.2g})"


def assert_finite(value, what):
    """Raises CheckFailed when `value` holds NaN or infinity; returns how many values it checked."""
    array = to_numpy(value)
    finite = np.isfinite(array)
    if not finite.all():
        raise CheckFailed(f"{what}: {int((~finite).sum())} of {array.size} values are NaN or infinite "
                          f"(max finite |value| {np.abs(array[finite]).max() if finite.any() else 0:.3g})")
    return array.size
