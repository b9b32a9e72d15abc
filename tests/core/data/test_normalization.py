"""Per-channel normalization: statistics from the training split only, applied to every split."""

import numpy as np
import pytest

from core.data import normalization
from core.data.mnist import load_mnist
from core.data.normalization import channel_statistics
from core.data.pixel_splits import splits_from_pixels


def split_images(dataset):
    return np.stack([image for image, _ in dataset.as_numpy_iterator()])


def test_statistics_match_numpy_in_chunks(monkeypatch):
    images = np.random.RandomState(0).randint(0, 256, (37, 5, 4, 3)).astype(np.uint8)
    monkeypatch.setattr(normalization, "CHUNK_EXAMPLES", 8)  # 5 chunks, the last one short.
    statistics = channel_statistics(images)
    pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
    np.testing.assert_allclose(statistics.mean, pixels.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(statistics.std, pixels.std(axis=0), rtol=1e-9)


def test_constant_channel_gets_the_floor_not_a_division_by_zero():
    images = np.full((4, 2, 2, 1), 7, np.uint8)
    statistics = channel_statistics(images)
    assert statistics.std == (1.0 / 255.0,)
    np.testing.assert_allclose(statistics.apply(np.full((1, 1), 7 / 255.0, np.float32)), 0.0, atol=1e-6)


def test_mnist_statistics_come_from_the_training_split_only(tmp_path):
    # Training part dark, the held-out validation (last 10% of the training file) and test bright:
    # any leak of held-out pixels would raise the mean.
    rng = np.random.RandomState(0)
    x_train = rng.randint(0, 100, (60, 28, 28)).astype(np.uint8)
    x_train[-6:] = 255
    x_test = np.full((10, 28, 28), 255, np.uint8)
    labels = np.arange(60) % 10
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=labels, x_test=x_test, y_test=labels[:10])
    splits = load_mnist(str(tmp_path))

    train_pixels = x_train[:-6].astype(np.float64) / 255.0
    np.testing.assert_allclose(splits.normalization.mean, [train_pixels.mean()], rtol=1e-9)
    np.testing.assert_allclose(splits.normalization.std, [train_pixels.std()], rtol=1e-9)
    train = split_images(splits.train)
    np.testing.assert_allclose(train.mean(), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(), 1.0, atol=1e-4)
    expected_bright = (1.0 - train_pixels.mean()) / train_pixels.std()
    np.testing.assert_allclose(split_images(splits.test), expected_bright, rtol=1e-5)
    np.testing.assert_allclose(split_images(splits.validation), expected_bright, rtol=1e-5)


@pytest.mark.parametrize("normalize", [True, False])
def test_per_channel_and_switchable(normalize):
    rng = np.random.RandomState(1)
    # Three channels of different brightness and spread.
    train_images = np.stack([rng.randint(0, 50, (20, 4, 4)), rng.randint(100, 256, (20, 4, 4)),
                             np.full((20, 4, 4), 9)], axis=-1).astype(np.uint8)
    labels = np.zeros(20, np.int32)
    pair = (train_images, labels)
    splits = splits_from_pixels("toy", pair, pair, pair, 2, ("a", "b"), normalize=normalize)
    images = split_images(splits.train)
    if normalize:
        np.testing.assert_allclose(images[..., :2].mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
        np.testing.assert_allclose(images[..., :2].std(axis=(0, 1, 2)), 1.0, atol=1e-4)
    else:
        assert splits.normalization is None
        np.testing.assert_allclose(images * 255.0, train_images, atol=1e-4)
