"""A folder of class subfolders of real PNG/JPEG files (encoded with tf.io), and broken folders."""

import os

import numpy as np
import pytest
import tensorflow as tf

from core.data import DatasetError
from core.data.image_folder import load_image_folder

# Each class's images are one flat color, so resizing keeps their pixels exactly (PNG is
# lossless; JPEG of a flat color is within a few levels).
CLASS_COLORS = {"cat": (200, 30, 30), "dog": (30, 200, 30), "emu": (30, 30, 200)}


def write_image(path, image):
    encode = tf.io.encode_png if path.endswith(".png") else tf.io.encode_jpeg
    with open(path, "wb") as file:
        file.write(encode(tf.constant(image)).numpy())


def write_folder(root, per_class=5):
    """Classes cat/dog/emu of mixed PNG and JPEG files, of different sizes, one grayscale."""
    for class_name, color in CLASS_COLORS.items():
        os.makedirs(root / class_name)
        for index in range(per_class):
            image = np.zeros((20 + 3 * index, 40 - 2 * index, 3), np.uint8) + np.array(color, np.uint8)
            extension = ".png" if index % 2 else (".JPG" if index == 2 else ".jpeg")
            write_image(str(root / class_name / f"{index}{extension}"), image)
        gray = np.full((25, 25, 1), 128, np.uint8)
        write_image(str(root / class_name / "gray.png"), gray)  # Decoded to 3 channels.
    (root / "cat" / "notes.txt").write_text("not an image; skipped by its extension")
    return root


def split_arrays(dataset):
    pairs = list(dataset.as_numpy_iterator())
    return np.stack([image for image, _ in pairs]), np.array([label for _, label in pairs])


def test_reads_resizes_and_labels_by_subfolder(tmp_path):
    splits = load_image_folder(str(write_folder(tmp_path)), image_size=16, normalize=False)
    assert splits.class_names == ("cat", "dog", "emu") and splits.num_classes == 3
    assert splits.input_shape == (16, 16, 3)
    assert splits.num_examples == {"train": 14, "validation": 2, "test": 2}  # 18 images, 10% + 10% held out.
    colors = np.array(list(CLASS_COLORS.values()), np.float32) / 255.0
    for split in (splits.train, splits.validation, splits.test):
        images, labels = split_arrays(split)
        assert images.shape[1:] == (16, 16, 3) and images.dtype == np.float32 and labels.dtype == np.int32
        gray = np.all(np.abs(images - 128 / 255.0) < 1e-6, axis=(1, 2, 3))
        expected = colors[labels][:, None, None, :]
        colored = images[~gray]
        np.testing.assert_allclose(colored, np.broadcast_to(expected[~gray], colored.shape), atol=4 / 255)


def test_split_is_fixed_across_loads(tmp_path):
    write_folder(tmp_path)
    first = load_image_folder(str(tmp_path), image_size=8)
    second = load_image_folder(str(tmp_path), image_size=8)
    for split in ("train", "validation", "test"):
        first_images, second_images = (split_arrays(getattr(splits, split))[0] for splits in (first, second))
        np.testing.assert_array_equal(first_images, second_images)
    np.testing.assert_allclose(first.normalization.mean, second.normalization.mean)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_unreadable_images_are_named(tmp_path, damage):
    write_folder(tmp_path)
    jpeg, png = tmp_path / "dog" / "0.jpeg", tmp_path / "emu" / "3.png"
    for path in (jpeg, png):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not an image at all")
    with pytest.raises(DatasetError) as error:
        load_image_folder(str(tmp_path), image_size=8)
    message = str(error.value)
    assert message.startswith("2 of 18 images cannot be read or decoded as JPEG/PNG")
    assert str(jpeg) in message and str(png) in message


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="has no class subfolders: put each class's JPEG/PNG images in"):
        load_image_folder(str(tmp_path))


def test_images_without_class_subfolders(tmp_path):
    write_image(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="it holds 1 images directly, which need to move into them"):
        load_image_folder(str(tmp_path))


def test_one_class(tmp_path):
    write_folder(tmp_path)
    for class_name in ("dog", "emu"):
        for name in os.listdir(tmp_path / class_name):
            os.remove(tmp_path / class_name / name)
        os.rmdir(tmp_path / class_name)
    with pytest.raises(DatasetError, match=r"has one class subfolder \(cat\); a classifier needs at"):
        load_image_folder(str(tmp_path))


def test_class_without_images(tmp_path):
    write_folder(tmp_path)
    os.makedirs(tmp_path / "fox")
    (tmp_path / "fox" / "readme.txt").write_text("no images yet")
    with pytest.raises(DatasetError, match=r"fox: holds no images with the extensions .jpg, .jpeg, .png"):
        load_image_folder(str(tmp_path))


def test_too_few_images(tmp_path):
    write_folder(tmp_path, per_class=1)  # 2 images per class: 6 in all.
    with pytest.raises(DatasetError, match="holds 6 images; at least 10 are needed"):
        load_image_folder(str(tmp_path))
