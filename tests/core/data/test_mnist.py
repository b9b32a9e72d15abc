"""MNIST from mnist.npz and from the IDX files (plain and gzipped), and from broken copies of them."""

import gzip
import os

import numpy as np
import pytest

from core.data import DatasetError
from core.data.mnist import load_mnist
from tests.core.data.file_writers import idx_bytes, random_examples, write_mnist_idx


def split_arrays(dataset):
    pairs = list(dataset.as_numpy_iterator())
    return np.stack([image for image, _ in pairs]), np.array([label for _, label in pairs])


def assert_matches_written(splits, train, test):
    """Test split = test file; validation = last 10% of the training file; pixels / 255 exactly."""
    train_images, train_labels = train
    held_out = len(train_images) // 10
    assert splits.num_examples == {"train": len(train_images) - held_out, "validation": held_out,
                                   "test": len(test[0])}
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    for split, (images, labels) in ((splits.test, test), (splits.validation, (train_images[-held_out:],
                                                                               train_labels[-held_out:]))):
        read_images, read_labels = split_arrays(split)
        assert read_images.dtype == np.float32 and read_labels.dtype == np.int32
        np.testing.assert_allclose(read_images[..., 0] * 255.0, images, atol=1e-4)
        np.testing.assert_array_equal(read_labels, labels)


def test_reads_keras_npz(tmp_path):
    train = random_examples(50, (28, 28), 10, seed=0)
    test = random_examples(12, (28, 28), 10, seed=1)
    np.savez(tmp_path / "mnist.npz", x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1])
    assert_matches_written(load_mnist(str(tmp_path), normalize=False), train, test)


@pytest.mark.parametrize("gzipped", [False, True])
def test_reads_idx_files(tmp_path, gzipped):
    written = write_mnist_idx(tmp_path, train_count=40, test_count=12, gzipped=gzipped)
    assert_matches_written(load_mnist(str(tmp_path), normalize=False), written["train"], written["t10k"])


def test_reads_idx_files_named_with_a_dot(tmp_path):
    written = write_mnist_idx(tmp_path, gzipped=True)
    for name in os.listdir(tmp_path):
        os.rename(tmp_path / name, tmp_path / name.replace("-idx", ".idx"))
    assert_matches_written(load_mnist(str(tmp_path), normalize=False), written["train"], written["t10k"])


def corrupt_truncated_images(path):
    raw = (path / "train-images-idx3-ubyte").read_bytes()
    (path / "train-images-idx3-ubyte").write_bytes(raw[:-100])
    return "train-images-idx3-ubyte", (
        "truncated: dimensions [40, 28, 28] need 31360 bytes of data, the file has 31260")


def corrupt_swapped_files(path):
    (path / "t10k-images-idx3-ubyte").write_bytes((path / "t10k-labels-idx1-ubyte").read_bytes())
    return "t10k-images-idx3-ubyte", "magic number 0x00000801, expected 0x00000803"


def corrupt_short_header(path):
    (path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00")
    return "train-labels-idx1-ubyte", "the header is cut short: 5 bytes, 1 dimensions need 8"


def corrupt_label_range(path):
    labels = np.arange(40, dtype=np.uint8) % 10
    labels[7] = 12
    (path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels, 0x801))
    return "train-labels-idx1-ubyte", "label 12 at example 7 is outside 0..9"


def corrupt_count(path):
    (path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11, np.uint8), 0x801))
    return "t10k-labels-idx1-ubyte", "12 images but 11 labels"


def corrupt_image_size(path):
    (path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((12, 32, 32), np.uint8), 0x803))
    return "t10k-images-idx3-ubyte", (
        "must be a uint8 array of shape (N, 28, 28), found uint8 array of shape (12, 32, 32)")


def corrupt_gzip_stream(path):
    raw = gzip.compress((path / "train-images-idx3-ubyte").read_bytes())
    os.remove(path / "train-images-idx3-ubyte")
    (path / "train-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    return "train-images-idx3-ubyte.gz", "is a truncated or corrupt gzip file"


@pytest.mark.parametrize("corrupt", [corrupt_truncated_images, corrupt_swapped_files, corrupt_short_header,
                                     corrupt_label_range, corrupt_count, corrupt_image_size,
                                     corrupt_gzip_stream])
def test_broken_idx_file_is_named_with_its_problem(tmp_path, corrupt):
    write_mnist_idx(tmp_path, train_count=40, test_count=12)
    file_name, problem = corrupt(tmp_path)
    with pytest.raises(DatasetError) as error:
        load_mnist(str(tmp_path))
    assert file_name in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize("contents, problem", [
    (b"PK\x03\x04 not really a zip", "is not a readable .npz archive"),
    ({"x_train": np.zeros((10, 28, 28), np.uint8)}, "lacks the arrays y_train, x_test, y_test"),
    ({"x_train": np.array([None] * 10, dtype=object), "y_train": 0, "x_test": 0, "y_test": 0},
     "is not a readable .npz archive"),  # Object arrays would need pickle, which stays off.
    ({"x_train": np.zeros((10, 28, 28), np.uint8), "y_train": np.full(10, 0.5),
      "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.zeros(2, np.uint8)},
     "labels must be a 1-D integer array, found float64"),
])
def test_broken_npz_is_named_with_its_problem(tmp_path, contents, problem):
    path = tmp_path / "mnist.npz"
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    else:
        np.savez(path, **contents)
    with pytest.raises(DatasetError, match="mnist.npz") as error:
        load_mnist(str(tmp_path))
    assert problem in str(error.value)


def test_missing_files_message_says_what_to_put_where(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_mnist(str(tmp_path))
    message = str(error.value)
    assert f"not in {tmp_path}" in message
    for name in ("mnist.npz", "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte", ".gz"):
        assert name in message


def test_partial_idx_files_are_listed(tmp_path):
    write_mnist_idx(tmp_path, gzipped=True)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetError, match=r"Found .*t10k-images-idx3-ubyte.gz but not t10k-labels-idx1"):
        load_mnist(str(tmp_path))
