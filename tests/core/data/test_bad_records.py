"""Bad records: each kind stops the read with one line naming the shard and the record's index, or,
with --skip_bad_records, is counted and left out until more than the allowed fraction is bad."""

import os

import numpy as np
import pytest
import tensorflow as tf

from core.data import record_conversion, record_format
from core.data.errors import DatasetError
from core.data.record_reading import BadRecordError, explain_bad_records
from core.data.record_splits import RecordData
from tests.core.data.record_files import SPLIT_IDS, id_images, image_ids, write_id_records

PNG = tf.io.encode_png(id_images([7])[0]).numpy()
# Record 3 of the validation split, by kind.
BAD_RECORDS = {
    "not_an_example": (b"\x08\x96\x01 not a tf.train.Example", "is not a tf.train.Example"),
    "undecodable": (record_format.encode_example(b"\xff\xd8 truncated jpeg", 1, "JPEG"),
                    "holds an image that does not decode"),
    "label_out_of_range": (record_format.encode_example(PNG, 3, "PNG"), "has a label outside the classes"),
}


def _write_with_bad_record(directory, split, serialized, index=3):
    write_id_records(directory, num_shards=2)
    names = ["class0", "class1", "class2"]
    ids = list(SPLIT_IDS[split])
    examples = record_conversion.png_examples(id_images(ids), np.asarray(ids) % 3, names)
    examples[index] = lambda: serialized
    splits = {name: record_conversion.png_examples(id_images(list(values)), np.asarray(list(values)) % 3, names)
              for name, values in SPLIT_IDS.items()}
    splits[split] = examples
    facts = dict(name="ids", class_names=names, image_shape=[8, 8, 1], fixed_size=True, normalization=None)
    record_conversion.write_splits(str(directory), splits, facts, num_shards=2, log=lambda line: None)


def _read_ids(dataset):
    with explain_bad_records():
        return [int(value) for images, _ in dataset.batch(16) for value in image_ids(images)]


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_a_bad_record_stops_with_its_shard_and_index_or_is_skipped_and_counted(tmp_path, kind):
    serialized, words = BAD_RECORDS[kind]
    _write_with_bad_record(tmp_path, "validation", serialized)
    with pytest.raises(BadRecordError) as raised:
        _read_ids(RecordData(str(tmp_path), normalize=False).examples("validation"))
    shard = os.path.join(str(tmp_path), "validation-00000-of-00001")
    assert str(raised.value).startswith(f"{shard}: record 3 {words}")
    assert "\n" not in str(raised.value)

    skipping = RecordData(str(tmp_path), normalize=False, skip_bad_records=True, max_bad_records_fraction=0.2)
    kept = list(SPLIT_IDS["validation"])
    del kept[3]
    assert _read_ids(skipping.examples("validation")) == kept
    assert skipping.policy.check() == {"bad_records": 1, "records_read": 8}
    skipping.policy.max_fraction = 0.1  # 1 of 8 is more than 10%.
    with pytest.raises(DatasetError, match=r"1 of 8 records read are bad, more than --max_bad_records_fraction=0.1"):
        skipping.policy.check()


def test_a_truncated_shard_stops_at_its_first_unreadable_record_or_counts_the_rest(tmp_path):
    write_id_records(tmp_path, num_shards=2)
    path = os.path.join(str(tmp_path), "train-00001-of-00002")
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[:len(data) // 2])
    readable = sum(1 for _ in tf.data.TFRecordDataset(path).ignore_errors())
    assert 0 < readable < 24
    with pytest.raises(BadRecordError, match=rf"^{path}: record {readable} cannot be read \(the shard is truncated"):
        _read_ids(RecordData(str(tmp_path), normalize=False).examples("train"))
    skipping = RecordData(str(tmp_path), normalize=False, skip_bad_records=True, max_bad_records_fraction=0.9)
    assert len(_read_ids(skipping.examples("train"))) == 24 + readable
    assert skipping.policy.check()["bad_records"] == 24 - readable


def test_a_bad_record_in_the_shuffled_training_stream_is_named_too(tmp_path):
    _write_with_bad_record(tmp_path, "train", BAD_RECORDS["undecodable"][0], index=30)  # Shard 1, record 6.
    batches = RecordData(str(tmp_path), normalize=False).training_batches(8, seed=0)
    with pytest.raises(BadRecordError, match=r"train-00001-of-00002: record 6 holds an image that does not decode"):
        with explain_bad_records():
            for _ in batches.take(6):  # One epoch.
                pass
