"""Random images with random labels, for benchmarks and plumbing tests (nothing to learn)."""

import numpy as np

from core.data.splits import DatasetSplits, split_indices, splits_from_arrays


def load_synthetic(input_shape=(28, 28, 1), num_classes=10, num_examples=2048, seed=0) -> DatasetSplits:
    """Returns `num_examples` standard-normal images with uniform labels, split 80/10/10."""
    rng = np.random.RandomState(seed)
    images = rng.standard_normal((num_examples,) + tuple(input_shape)).astype(np.float32)
    labels = rng.randint(0, num_classes, size=num_examples)
    indices = split_indices(num_examples, 0.1, 0.1, seed=seed)
    return splits_from_arrays("synthetic", images, labels, indices, num_classes)
