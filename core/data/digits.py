"""scikit-learn's bundled `digits`: 1,797 real 8x8 handwritten digits, read from disk, no download."""

import numpy as np

from core.data.splits import DatasetSplits, split_indices, splits_from_arrays

VALIDATION_FRACTION = 0.10
TEST_FRACTION = 0.15


def load_digits() -> DatasetSplits:
    """Returns digits as (8, 8, 1) float32 images in [0, 1], split 75% / 10% / 15%."""
    from sklearn import datasets  # Imported here: only this dataset needs scikit-learn.

    bunch = datasets.load_digits()
    # Pixel values are integer ink counts in 0..16.
    images = (bunch.images.astype(np.float32) / 16.0)[..., np.newaxis]
    indices = split_indices(len(images), VALIDATION_FRACTION, TEST_FRACTION)
    return splits_from_arrays("digits", images, bunch.target, indices, num_classes=10)
