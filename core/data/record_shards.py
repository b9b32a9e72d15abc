"""Sharded TFRecord files and the metadata JSON that lists them.

A record directory holds shards named like TensorFlow's ImageNet records, `train-00000-of-00008`,
`validation-...`, `test-...`, and `records_metadata.json`, written last: counts per split and per
shard, byte size and sha256 of each shard, class names, image size and channels, the stored
labels' offset and (optionally) the training split's normalization. Every file is written under
a temporary name and renamed into place, so a killed conversion leaves files whose names say so
(`*.incomplete`), never a shard or metadata file that looks whole.
"""

import dataclasses
import hashlib
import json
import os
import re

import tensorflow as tf

from core.data.errors import DatasetError, file_error

METADATA_FILE = "records_metadata.json"
SPLITS = ("train", "validation", "test")
INCOMPLETE_SUFFIX = ".incomplete"
SHARD_NAME = re.compile(r"^(train|validation|test)-(\d{5})-of-(\d{5})$")
_HASH_CHUNK = 4 * 2**20  # Hashing reads 4 MB at a time: a 140 MB ImageNet shard in 35 reads.


def shard_name(split: str, index: int, count: int) -> str:
    """`train-00003-of-00008`: the ImageNet scripts' naming, which tf_cnn_benchmarks and NVIDIA read."""
    return f"{split}-{index:05d}-of-{count:05d}"


def write_shard(path: str, serialized_records) -> dict:
    """Writes the records to `path` under a temporary name, then renames it into place.

    Returns:
      {"file": basename, "num_records", "bytes", "sha256"} for the metadata.
    """
    temporary = path + INCOMPLETE_SUFFIX
    count = 0
    with tf.io.TFRecordWriter(temporary) as writer:
        for record in serialized_records:
            writer.write(record)
            count += 1
    with open(temporary, "rb+") as file:
        os.fsync(file.fileno())  # The data are on disk before the name says they are whole.
    os.replace(temporary, path)
    return {"file": os.path.basename(path), "num_records": count, "bytes": os.path.getsize(path),
            "sha256": file_sha256(path)}


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_metadata(directory: str, metadata: dict):
    """Writes records_metadata.json atomically (temporary file, fsync, rename)."""
    path = os.path.join(directory, METADATA_FILE)
    temporary = path + INCOMPLETE_SUFFIX
    with open(temporary, "w") as file:
        json.dump(metadata, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


@dataclasses.dataclass(frozen=True)
class RecordMetadata:
    """records_metadata.json, read and checked.

    Attributes:
      directory: where the shards are.
      name: the source dataset's name.
      class_names: a name per class index.
      image_shape: (H, W, C) the images are trained at (before --image_size overrides H and W).
      fixed_size: whether every stored image has that size (so no resize is needed).
      label_offset: stored label - label_offset = class index.
      normalization: {"mean": [...], "std": [...]} of the training split in [0, 1] units, or None.
      splits: split -> list of shard entries {"file", "num_records", "bytes", "sha256"}.
    """

    directory: str
    name: str
    class_names: tuple
    image_shape: tuple
    fixed_size: bool
    label_offset: int
    normalization: dict | None
    splits: dict

    def num_examples(self, split) -> int:
        return sum(shard["num_records"] for shard in self.splits[split])

    def paths(self, split) -> list:
        return [os.path.join(self.directory, shard["file"]) for shard in self.splits[split]]


def read_metadata(directory) -> RecordMetadata:
    """Reads a record directory's metadata and checks that its shards are there.

    Raises:
      DatasetError: without metadata (never converted, or a conversion that did not finish), with
        metadata that does not parse, a listed shard that is absent, or a shard-named file the
        metadata does not list (a leftover of another conversion would silently mix in).
    """
    path = os.path.join(directory, METADATA_FILE)
    if not os.path.exists(path):
        raise file_error(directory, f"has no {METADATA_FILE}: convert a dataset into it first "
                                    "(python -m training.convert_to_records); a conversion that was stopped "
                                    "writes none")
    try:
        with open(path) as file:
            raw = json.load(file)
        splits = {split: list(raw["splits"][split]) for split in SPLITS if split in raw["splits"]}
        metadata = RecordMetadata(
            directory=directory, name=str(raw["name"]), class_names=tuple(raw["class_names"]),
            image_shape=tuple(int(side) for side in raw["image_shape"]), fixed_size=bool(raw["fixed_size"]),
            label_offset=int(raw.get("label_offset", 0)), normalization=raw.get("normalization"), splits=splits)
        counts = [int(shard["num_records"]) for shards in splits.values() for shard in shards]
    except (ValueError, KeyError, TypeError) as error:
        raise file_error(path, f"is not tapecraft record metadata ({type(error).__name__}: {error})") from None
    if "train" not in splits or "validation" not in splits or min(counts, default=0) < 0:
        raise file_error(path, "must list train and validation shards")
    check_listing(metadata)
    return metadata


def check_listing(metadata: RecordMetadata):
    """Every listed shard exists, and every shard-named file is listed."""
    listed = {shard["file"] for shards in metadata.splits.values() for shard in shards}
    for name in sorted(listed):
        if not os.path.exists(os.path.join(metadata.directory, name)):
            raise DatasetError(f"{os.path.join(metadata.directory, name)}: shard listed in {METADATA_FILE} is "
                               "missing (copy it back, or convert again)")
    unlisted = sorted(name for name in os.listdir(metadata.directory)
                      if SHARD_NAME.match(name) and name not in listed)
    if unlisted:
        raise DatasetError(f"{os.path.join(metadata.directory, unlisted[0])}: shard file not listed in "
                           f"{METADATA_FILE} ({len(unlisted)} such files); remove it or convert again")
