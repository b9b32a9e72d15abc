"""Record files: conversion, the streamed splits, the resumable training stream, worker sharding."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from core.data import record_conversion, record_format, record_shards
from core.data.errors import DatasetError
from core.data.record_splits import RecordData
from tests.core.data.record_files import NUM_CLASSES, SPLIT_IDS, image_ids, write_id_records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    directory = tmp_path_factory.mktemp("records")
    write_id_records(directory)
    return str(directory)


def _ids(dataset, batches):
    ids, labels = [], []
    for images, batch_labels in dataset.take(batches):
        ids.append(image_ids(images))
        labels.append(batch_labels.numpy())
    return np.concatenate(ids), np.concatenate(labels)


def test_conversion_writes_imagenet_named_shards_and_metadata_last(records):
    names = sorted(os.listdir(records))
    assert names == ["records_metadata.json", "test-00000-of-00001", "train-00000-of-00004", "train-00001-of-00004",
                     "train-00002-of-00004", "train-00003-of-00004", "validation-00000-of-00001"]
    with open(os.path.join(records, "records_metadata.json")) as file:
        metadata = json.load(file)
    assert metadata["num_examples"] == {"train": 48, "validation": 8, "test": 8}
    assert [shard["num_records"] for shard in metadata["splits"]["train"]] == [12, 12, 12, 12]
    first = metadata["splits"]["train"][0]
    assert first["sha256"] == record_shards.file_sha256(os.path.join(records, first["file"]))
    # The features TensorFlow's ImageNet records use, readable by anyone's parser.
    serialized = next(iter(tf.data.TFRecordDataset(os.path.join(records, first["file"]))))
    example = tf.train.Example.FromString(serialized.numpy()).features.feature
    assert example[record_format.FORMAT].bytes_list.value == [b"PNG"]
    assert example[record_format.TEXT].bytes_list.value[0].startswith(b"class")
    assert example[record_format.HEIGHT].int64_list.value == [8]


def test_evaluation_splits_stream_every_example_once_in_order(records):
    data = RecordData(records, normalize=False)
    splits = data.splits()
    assert splits.num_examples == {"train": 48, "validation": 8, "test": 8}
    assert splits.input_shape == (8, 8, 1) and splits.normalization is None
    ids, labels = _ids(data.examples("test").batch(5), 10)
    assert ids.tolist() == list(SPLIT_IDS["test"])
    assert labels.tolist() == [value % NUM_CLASSES for value in SPLIT_IDS["test"]]


def test_training_stream_covers_each_epoch_once_and_resumes_at_any_step(records):
    data = RecordData(records, normalize=False, shuffle_buffer=16)
    stream, _ = _ids(data.training_batches(8, seed=3), 15)  # 120 examples: 2.5 epochs of 48.
    for epoch in range(2):
        assert sorted(stream[epoch * 48:(epoch + 1) * 48]) == list(SPLIT_IDS["train"])
    assert stream[:48].tolist() != sorted(stream[:48])  # Shuffled.
    assert stream[:48].tolist() != stream[48:96].tolist()  # Reshuffled every epoch.
    for steps_done in (5, 7):  # Across the epoch boundary (6 x 8 = 48), and inside the second epoch.
        resumed, _ = _ids(data.training_batches(8, seed=3, steps_done=steps_done), 3)
        np.testing.assert_array_equal(resumed, stream[steps_done * 8:(steps_done + 3) * 8], err_msg=steps_done)


def test_augmentation_of_a_resumed_stream_repeats_the_uninterrupted_one(records):
    data = RecordData(records, normalize=False)
    straight = [images.numpy() for images, _ in data.training_batches(4, 0, "crop_flip", mixup_alpha=0.4).take(6)]
    resumed = [images.numpy() for images, _ in
               data.training_batches(4, 0, "crop_flip", mixup_alpha=0.4, steps_done=4).take(2)]
    np.testing.assert_array_equal(np.stack(resumed), np.stack(straight[4:6]))
    # Augmented in fact: an id-filled image is constant; shifted by the crop (8 of 9 offsets), it is not.
    images = np.concatenate(straight)
    assert np.mean(images.min(axis=(1, 2, 3)) < images.max(axis=(1, 2, 3))) > 0.5


def test_workers_read_their_own_shards_or_share_batches_when_shards_are_few(records, tmp_path):
    data = RecordData(records, normalize=False)
    contexts = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=index, num_replicas_in_sync=2)
                for index in range(2)]
    # 4 shards, 2 workers: worker i reads shards i and i+2, a whole epoch of its 24 examples.
    per_worker = [set(_ids(data.training_batches(4, 0, context=context), 6)[0]) for context in contexts]
    assert per_worker[0].isdisjoint(per_worker[1])
    assert per_worker[0] | per_worker[1] == set(SPLIT_IDS["train"])
    # Resumed at global step 2, each worker is 2 of its own batches in (one replica per worker).
    own, _ = _ids(data.training_batches(4, 0, context=contexts[1]), 4)
    resumed, _ = _ids(data.training_batches(4, 0, context=contexts[1], steps_done=2), 2)
    np.testing.assert_array_equal(resumed, own[8:16])
    # One shard, 2 workers: both read it, each keeps every other batch of the same stream.
    write_id_records(tmp_path, num_shards=1)
    single = RecordData(str(tmp_path), normalize=False)
    whole, _ = _ids(single.training_batches(4, 0), 4)
    shares = [_ids(single.training_batches(4, 0, context=context), 2)[0] for context in contexts]
    np.testing.assert_array_equal(np.concatenate([shares[0][:4], shares[1][:4], shares[0][4:], shares[1][4:]]),
                                  whole)


def test_metadata_that_disagrees_with_the_directory_is_refused(records, tmp_path):
    with pytest.raises(DatasetError, match="has no records_metadata.json"):
        RecordData(str(tmp_path))
    write_id_records(tmp_path, num_shards=2)
    os.rename(tmp_path / "train-00001-of-00002", tmp_path / "elsewhere")
    with pytest.raises(DatasetError, match=r"train-00001-of-00002: shard listed in records_metadata.json is missing"):
        RecordData(str(tmp_path))
    os.rename(tmp_path / "elsewhere", tmp_path / "train-00001-of-00002")
    (tmp_path / "train-00007-of-00008").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"train-00007-of-00008: shard file not listed"):
        RecordData(str(tmp_path))


def test_existing_imagenet_style_shards_are_indexed_with_their_label_offset(tmp_path):
    # build_imagenet_data.py's labels: 1..N, 0 reserved for background; no test split.
    for split, labels in (("train", [1, 2, 3, 1]), ("validation", [2, 3])):
        png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8)).numpy()
        records = [record_format.encode_example(png, label, "PNG", f"n0{label}") for label in labels]
        record_shards.write_shard(str(tmp_path / record_shards.shard_name(split, 0, 1)), records)
    metadata = record_conversion.index_existing_records(str(tmp_path), label_offset=1, image_size=16,
                                                        log=lambda line: None)
    assert metadata["class_names"] == ["n01", "n02", "n03"]
    assert metadata["num_examples"] == {"train": 4, "validation": 2, "test": 2}
    data = RecordData(str(tmp_path))
    labels = np.concatenate([batch.numpy() for _, batch in data.examples("train").batch(4)])
    assert labels.tolist() == [0, 1, 2, 0]
    assert data.image_shape == (16, 16, 3) and data.normalization.mean == (0.485, 0.456, 0.406)


def test_digits_convert_to_records_that_read_back_as_the_loaders_splits(tmp_path):
    from core.data.catalog import load_dataset

    metadata = record_conversion.convert("digits", None, str(tmp_path), num_shards=3, log=lambda line: None)
    digits = load_dataset("digits")
    assert metadata["num_examples"] == digits.num_examples
    assert len(metadata["splits"]["train"]) == 3 and len(metadata["splits"]["test"]) == 1
    data = RecordData(str(tmp_path), normalize=False)
    stored = np.concatenate([images.numpy() for images, _ in data.examples("test").batch(512)])
    original = np.concatenate([images.numpy() for images, _ in digits.test.batch(512)])
    # Ink levels k/16 stored as round(255 k / 16): within half a gray level.
    np.testing.assert_allclose(stored, original, atol=0.5 / 255 + 1e-6)
