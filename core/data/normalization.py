"""Per-channel normalization with statistics computed from the training split only.

Validation and test images are normalized with the training split's mean and standard
deviation; computing them over all splits would leak held-out data into training.
"""

import dataclasses

import numpy as np

# uint8 images are summed in chunks so the float64 working copy stays small: a chunk of 2,048
# CIFAR images is 50 MB in float64, where the whole 50,000-image set would be 1.2 GB.
CHUNK_EXAMPLES = 2048
# A channel that never varies would divide by zero; one gray level (1/255) is the smallest
# spread a uint8 image can have.
MINIMUM_STD = 1.0 / 255.0


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Per-channel mean and standard deviation, in units of pixel / 255 (so in [0, 1]).

    A model served on new images must apply it too: x = (pixel / 255 - mean) / std.

    Attributes:
      mean: one float per channel.
      std: one float per channel, at least MINIMUM_STD.
    """

    mean: tuple
    std: tuple

    def apply(self, images):
        """Normalizes float images in [0, 1] of shape [..., C] (numpy or TensorFlow)."""
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        return (images - mean) / std


def channel_statistics(images) -> Normalization:
    """Mean and standard deviation of each channel over every pixel of every image.

    Args:
      images: uint8 array [N, H, W, C], the training split only.

    Returns:
      Normalization in [0, 1] pixel units.
    """
    channels = images.shape[-1]
    total = np.zeros(channels, np.float64)
    total_squares = np.zeros(channels, np.float64)
    for start in range(0, len(images), CHUNK_EXAMPLES):
        chunk = images[start : start + CHUNK_EXAMPLES].reshape(-1, channels).astype(np.float64) / 255.0
        total += chunk.sum(axis=0)
        total_squares += np.square(chunk).sum(axis=0)
    count = images.size // channels
    mean = total / count
    # E[x^2] - E[x]^2 in float64 is exact enough for values in [0, 1]; the clip removes the
    # tiny negative variance rounding can leave for a constant channel.
    std = np.sqrt(np.maximum(total_squares / count - np.square(mean), 0.0))
    std = np.maximum(std, MINIMUM_STD)
    return Normalization(mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std))
