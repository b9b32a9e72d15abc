"""Crop/flip and mixup/CutMix: seeded (same seed, same batches), and they really change the images."""

import numpy as np
import pytest
import tensorflow as tf

from core.data import create_augmentation, create_batch_mixing, training_dataset
from core.data.augmentation import crop_padding


def image_split(count=16, size=8, channels=3, seed=0):
    """Distinct random images with labels 0..count-1; returned as a dataset and as arrays."""
    images = np.random.RandomState(seed).uniform(0.1, 1.0, (count, size, size, channels)).astype(np.float32)
    labels = np.arange(count, dtype=np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels)), images, labels


def take_batches(dataset, count):
    return [tuple(np.asarray(part) for part in batch) for batch in dataset.take(count)]


@pytest.mark.parametrize("mixup_alpha, cutmix_alpha", [(0.0, 0.0), (0.4, 0.0), (0.0, 1.0), (0.4, 1.0)])
def test_same_seed_same_batches_other_seed_other_images(mixup_alpha, cutmix_alpha):
    split, _, _ = image_split()
    augment = create_augmentation("crop_flip", (8, 8, 3))
    mix = create_batch_mixing(mixup_alpha, cutmix_alpha, num_classes=16)

    def batches(seed):
        return take_batches(training_dataset(split, 16, 8, seed, augment=augment, mix_batches=mix), 4)

    first, again, other = batches(seed=3), batches(seed=3), batches(seed=4)
    for (images, labels), (images_again, labels_again) in zip(first, again):
        np.testing.assert_array_equal(images, images_again)
        np.testing.assert_array_equal(labels, labels_again)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_augmentation_depends_on_the_seed_not_only_the_order():
    split, images, _ = image_split()
    augment = create_augmentation("crop_flip", (8, 8, 3))
    seeded = [np.stack([image for image, _ in augment(split, seed).as_numpy_iterator()])
              for seed in (1, 1, 2)]
    np.testing.assert_array_equal(seeded[0], seeded[1])
    assert not np.array_equal(seeded[0], seeded[2])
    changed = [not np.array_equal(augmented, original) for augmented, original in zip(seeded[0], images)]
    assert sum(changed) >= 12  # Each image stays put only with chance 1/(9*9*2) (offsets 0..2*1, flip).


@pytest.mark.parametrize("name", ["crop", "crop_flip"])
def test_each_image_is_a_window_of_its_padded_original(name):
    size = 16
    split, images, labels = image_split(count=24, size=size)
    padding = crop_padding(size)
    assert padding == 2 and crop_padding(32) == 4  # CIFAR's 4 pixels.
    flips_seen = 0
    augmented_examples = create_augmentation(name, (size, size, 3))(split, 0).as_numpy_iterator()
    for index, ((augmented, label), original) in enumerate(zip(augmented_examples, images)):
        assert label == labels[index]  # Labels pass through untouched, in order.
        padded = np.pad(original, ((padding, padding), (padding, padding), (0, 0)))
        offsets = range(2 * padding + 1)
        windows = [(flip, padded[top : top + size, left : left + size])
                   for top in offsets for left in offsets for flip in (False, True)]
        matches = [flip for flip, window in windows
                   if np.array_equal(augmented, window[:, ::-1] if flip else window)]
        assert matches, "augmented image is not a (flipped) crop of the padded original"
        flips_seen += all(matches)
    assert flips_seen == 0 if name == "crop" else 4 <= flips_seen <= 20  # 24 fair coin flips.


@pytest.mark.parametrize("mixup_alpha, cutmix_alpha", [(0.4, 0.0), (0.0, 1.0), (0.4, 1.0)])
def test_mixed_labels_weigh_the_partners_as_the_pixels_do(mixup_alpha, cutmix_alpha):
    # Image k is the constant k, label k: a mixed image's mean must equal sum_k label_k * k, for
    # mixup (blend) and CutMix (pasted box, weight = its area) alike.
    count, size = 16, 8
    images = np.broadcast_to(np.arange(count, dtype=np.float32)[:, None, None, None], (count, size, size, 1))
    labels = np.arange(count, dtype=np.int32)
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(count).repeat(6)
    mixed = create_batch_mixing(mixup_alpha, cutmix_alpha, num_classes=count)(batches, 7)
    changed = 0
    for mixed_images, soft_labels in mixed.as_numpy_iterator():
        assert soft_labels.shape == (count, count) and soft_labels.dtype == np.float32
        np.testing.assert_allclose(soft_labels.sum(axis=1), 1.0, atol=1e-5)
        expected_means = soft_labels @ np.arange(count, dtype=np.float32)
        np.testing.assert_allclose(mixed_images.mean(axis=(1, 2, 3)), expected_means, atol=1e-4)
        changed += int(not np.array_equal(mixed_images, images))
    assert changed >= 5


def test_none_means_no_hooks():
    assert create_augmentation("none", (8, 8, 3)) is None
    assert create_batch_mixing(0.0, 0.0, 10) is None
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        create_augmentation("rotate", (8, 8, 3))
