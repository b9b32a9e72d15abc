"""CIFAR-10/100 from the python and binary versions, as folders and as .tar.gz, and broken copies."""

import os
import tarfile

import numpy as np
import pytest

from core.data import DatasetError
from core.data.cifar import load_cifar
from tests.core.data.file_writers import cifar_file_contents, python2_pickle, write_cifar


def split_arrays(dataset):
    pairs = list(dataset.as_numpy_iterator())
    return np.stack([image for image, _ in pairs]), np.array([label for _, label in pairs])


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
@pytest.mark.parametrize("version", ["python", "binary"])
@pytest.mark.parametrize("archive", [False, True])
def test_reads_every_distribution(tmp_path, dataset, version, archive):
    _, train, test = write_cifar(tmp_path, dataset, version, archive=archive, per_file=20, test_count=10)
    splits = load_cifar(str(tmp_path), dataset, normalize=False)

    held_out = len(train[0]) // 10  # The last 10% of the training files (5,000 of 50,000 at full size).
    assert splits.num_examples == {"train": len(train[0]) - held_out, "validation": held_out, "test": 10}
    num_classes = 10 if dataset == "cifar10" else 100
    assert splits.input_shape == (32, 32, 3) and splits.num_classes == num_classes
    assert splits.class_names == tuple(f"class{i}" for i in range(num_classes))
    for split, (images, labels) in ((splits.test, test),
                                    (splits.validation, (train[0][-held_out:], train[1][-held_out:])),
                                    (splits.train, (train[0][:-held_out], train[1][:-held_out]))):
        read_images, read_labels = split_arrays(split)
        assert read_images.dtype == np.float32 and read_labels.dtype == np.int32
        np.testing.assert_allclose(read_images * 255.0, images, atol=1e-4)  # Channel planes to HWC.
        np.testing.assert_array_equal(read_labels, labels)  # CIFAR-100: the fine label.


def test_data_dir_may_be_the_unpacked_folder_itself(tmp_path):
    folder, _, test = write_cifar(tmp_path, "cifar10", "binary")
    splits = load_cifar(folder, "cifar10", normalize=False)
    np.testing.assert_array_equal(split_arrays(splits.test)[1], test[1])


@pytest.mark.parametrize("dataset, names", [
    ("cifar10", ["cifar-10-python.tar.gz", "cifar-10-batches-py/", "cifar-10-binary.tar.gz",
                 "cifar-10-batches-bin/", "data_batch_1", "test_batch", "data_batch_5.bin", "batches.meta"]),
    ("cifar100", ["cifar-100-python.tar.gz", "cifar-100-python/", "cifar-100-binary.tar.gz",
                  "cifar-100-binary/", "train.bin", "test.bin", "fine_label_names.txt"]),
])
def test_missing_files_message_says_what_to_put_where(tmp_path, dataset, names):
    (tmp_path / "unrelated.txt").write_text("not a dataset")
    with pytest.raises(DatasetError) as error:
        load_cifar(str(tmp_path), dataset)
    message = str(error.value)
    assert message.startswith(f"--dataset={dataset}: the dataset files are not in {tmp_path}")
    for name in names:
        assert name in message


def break_binary_record(folder):
    path = os.path.join(folder, "data_batch_2.bin")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-5])
    return "data_batch_2.bin: holds 61455 bytes, not a whole number of 3073-byte records"


def break_binary_label(folder):
    path = os.path.join(folder, "test_batch.bin")
    data = bytearray(open(path, "rb").read())
    data[3073 * 4] = 10  # The label byte of the fifth record.
    open(path, "wb").write(bytes(data))
    return "test_batch.bin: label 10 at example 4 is outside 0..9"


def break_missing_batch(folder):
    os.remove(os.path.join(folder, "data_batch_5.bin"))
    return "cifar-10-batches-bin: lacks data_batch_5.bin of the binary version's files"


def break_label_names(folder):
    open(os.path.join(folder, "batches.meta.txt"), "w").write("airplane\nautomobile\n")
    return "batches.meta.txt: lists 2 label names, expected 10"


@pytest.mark.parametrize("corrupt", [break_binary_record, break_binary_label, break_missing_batch,
                                     break_label_names])
def test_broken_binary_files_are_named_with_their_problem(tmp_path, corrupt):
    folder, _, _ = write_cifar(tmp_path, "cifar10", "binary", per_file=20)
    problem = corrupt(folder)
    with pytest.raises(DatasetError) as error:
        load_cifar(str(tmp_path), "cifar10")
    assert problem in str(error.value)


def test_truncated_python_batch_is_named(tmp_path):
    folder, _, _ = write_cifar(tmp_path, "cifar10", "python")
    path = os.path.join(folder, "test_batch")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"test_batch: is truncated or not a pickle"):
        load_cifar(str(tmp_path), "cifar10")


def test_python_batch_of_the_wrong_shape_is_named(tmp_path):
    files, _, _ = cifar_file_contents("cifar100", "python")
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    batch = {"data": np.zeros((4, 1024), np.uint8), "fine_labels": [0] * 4}
    (folder / "train").write_bytes(python2_pickle(batch))
    with pytest.raises(DatasetError, match=r"train: 'data' must be a uint8 array of shape \(N, 3072\), "
                                           r"found uint8 array of shape \(4, 1024\)"):
        load_cifar(str(tmp_path), "cifar100")


@pytest.mark.parametrize("keep_fraction", [0.5, 0.97])
def test_truncated_archive_is_named(tmp_path, keep_fraction):
    path, _, _ = write_cifar(tmp_path, "cifar10", "python", archive=True, per_file=30)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: int(len(data) * keep_fraction)])
    # Cut mid-stream the gzip decoder fails; cut near the end, tar may stop before a member.
    with pytest.raises(DatasetError, match=r"python.tar.gz: (is a truncated or corrupt archive|lacks)"):
        load_cifar(str(tmp_path), "cifar10")


def test_archive_without_a_batch_is_named(tmp_path):
    folder, _, _ = write_cifar(tmp_path, "cifar10", "python")
    os.remove(os.path.join(folder, "data_batch_3"))
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    os.rename(folder, tmp_path / "elsewhere")
    with pytest.raises(DatasetError, match=r"cifar-10-python.tar.gz: lacks cifar-10-batches-py/data_batch_3"):
        load_cifar(str(tmp_path), "cifar10")
