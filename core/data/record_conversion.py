"""Converting a dataset to sharded TFRecords: the datasets tapecraft loads, or existing shards indexed.

Array datasets (digits, MNIST, CIFAR-10/100) are loaded by their usual loaders, unnormalized,
and every image is stored as a lossless PNG of its uint8 pixels (digits' 17 ink levels k/16 are
rounded to round(255 k / 16)). An image folder's files are stored as they are (its JPEGs are not
re-encoded), split exactly as `--dataset=image_folder` splits them. The training split is
shuffled with a fixed seed before it is cut into shards, so every shard mixes the classes; the
validation and test splits keep their order. The metadata is written last.
"""

import glob
import os

import numpy as np
import tensorflow as tf

from core.data import record_format, record_shards
from core.data.catalog import load_dataset
from core.data.errors import DatasetError
from core.data.image_files import declared_pixels
from core.data.image_folder import DEFAULT_IMAGE_SIZE, SPLIT_SEED, TEST_FRACTION, VALIDATION_FRACTION, list_images
from core.data.normalization import channel_statistics
from core.data.splits import split_indices

ARRAY_SOURCES = ("digits", "mnist", "cifar10", "cifar100")
SOURCES = ARRAY_SOURCES + ("image_folder",)
SHUFFLE_SEED = 0
_READ_BATCH = 1024


def convert(source: str, input_dir, output_dir: str, num_shards: int, image_size: int = 0, log=print) -> dict:
    """Writes `source` as record shards and metadata into `output_dir`; returns the metadata.

    Args:
      source: one of SOURCES.
      input_dir: where the source's files are (unused for digits).
      output_dir: the record directory (created).
      num_shards: shards of the training split; validation and test get as many in proportion
        to their size, at least one each.
      image_size: image_folder only: the side images are trained at (0: DEFAULT_IMAGE_SIZE).
    """
    os.makedirs(output_dir, exist_ok=True)
    if source == "image_folder":
        splits, facts = _image_folder_splits(input_dir, image_size or DEFAULT_IMAGE_SIZE)
    else:
        splits, facts = _array_splits(source, input_dir)
    return write_splits(output_dir, splits, facts, num_shards, log)


def write_splits(output_dir, splits, facts, num_shards, log=print) -> dict:
    """Writes each split's examples as shards, then the metadata; returns the metadata.

    Args:
      output_dir: the record directory (created when absent).
      splits: split name -> list of functions, each returning one serialized Example.
      facts: the metadata's other fields (name, class_names, image_shape, fixed_size, normalization).
      num_shards: shards of the training split; the others in proportion, at least one each.
    """
    os.makedirs(output_dir, exist_ok=True)
    train_count = len(splits["train"])
    metadata = dict(facts, label_offset=0, splits={})
    for split, examples in splits.items():
        count = num_shards if split == "train" else max(1, round(num_shards * len(examples) / train_count))
        count = min(count, len(examples))
        metadata["splits"][split] = []
        for index, part in enumerate(np.array_split(np.arange(len(examples)), count)):
            path = os.path.join(output_dir, record_shards.shard_name(split, index, count))
            entry = record_shards.write_shard(path, (examples[i]() for i in part))
            metadata["splits"][split].append(entry)
        log(f"{split}: {len(examples)} examples in {count} shards")
    metadata["num_examples"] = {split: len(examples) for split, examples in splits.items()}
    record_shards.write_metadata(output_dir, metadata)
    return metadata


def png_examples(images, labels, class_names) -> list:
    """Functions each returning the Example of one uint8 image [H, W, C] as PNG and its label."""

    def example(image, label):
        def serialize():  # PNG encoding happens as each shard is written: only uint8 arrays are held.
            encoded = tf.io.encode_png(image).numpy()
            return record_format.encode_example(encoded, int(label), "PNG", class_names[int(label)],
                                                image.shape[0], image.shape[1])
        return serialize

    return [example(image, label) for image, label in zip(images, labels)]


def _array_splits(source, input_dir):
    """Per split, a list of functions each returning one serialized Example (PNG of uint8 pixels)."""
    data = load_dataset(source, input_dir, normalize=False)
    pixels = {}
    for split in record_shards.SPLITS:
        images, labels = [], []
        for batch_images, batch_labels in getattr(data, split).batch(_READ_BATCH).as_numpy_iterator():
            images.append(np.rint(np.clip(batch_images, 0.0, 1.0) * 255.0).astype(np.uint8))
            labels.append(batch_labels)
        pixels[split] = (np.concatenate(images), np.concatenate(labels))
    order = np.random.RandomState(SHUFFLE_SEED).permutation(len(pixels["train"][1]))
    pixels["train"] = (pixels["train"][0][order], pixels["train"][1][order])
    splits = {split: png_examples(*pixels[split], data.class_names) for split in record_shards.SPLITS}
    statistics = channel_statistics(pixels["train"][0])
    facts = dict(name=source, class_names=list(data.class_names), image_shape=list(data.input_shape), fixed_size=True,
                 normalization={"mean": list(statistics.mean), "std": list(statistics.std)})
    return splits, facts


def _image_folder_splits(input_dir, image_size):
    """Per split, functions returning Examples of the folder's files, stored as they are."""
    paths, labels, class_names = list_images(input_dir)
    indices = split_indices(len(paths), VALIDATION_FRACTION, TEST_FRACTION, seed=SPLIT_SEED)
    train, validation, test = indices
    train = train[np.random.RandomState(SHUFFLE_SEED).permutation(len(train))]

    def example(index):
        def serialize():
            with open(paths[index], "rb") as file:
                encoded = file.read()
            width, height = declared_pixels(paths[index]) or (0, 0)
            return record_format.encode_example(encoded, labels[index], record_format.image_format_of(encoded),
                                                class_names[labels[index]], height, width)
        return serialize

    splits = {split: [example(i) for i in part] for split, part in zip(record_shards.SPLITS, (train, validation, test))}
    # No normalization statistics: they would need every image decoded; training on these
    # records with --normalize uses the ImageNet statistics instead (core/data/record_splits.py).
    facts = dict(name=f"image_folder:{os.path.basename(os.path.normpath(input_dir))}", class_names=class_names,
                 image_shape=[image_size, image_size, 3], fixed_size=False, normalization=None)
    return splits, facts


def index_existing_records(directory, label_offset: int, image_size: int, log=print) -> dict:
    """Writes metadata for shards another tool made (ImageNet's `train-*`, `validation-*`).

    Reads every record once: counts per shard, the stored labels and their class texts. Without
    test shards the validation shards serve as the test split too (ImageNet's test labels are
    not public).

    Raises:
      DatasetError: without train/validation shards, or with a record that is not an Example
        with the expected features (named by shard and index).
    """
    metadata = dict(name=f"records:{os.path.basename(os.path.normpath(directory))}", label_offset=label_offset,
                    image_shape=[image_size or DEFAULT_IMAGE_SIZE] * 2 + [3], fixed_size=False, normalization=None,
                    splits={})
    texts = {}
    for split in record_shards.SPLITS:
        paths = sorted(path for path in glob.glob(os.path.join(directory, f"{split}-*"))
                       if record_shards.SHARD_NAME.match(os.path.basename(path)))
        if not paths:
            continue
        metadata["splits"][split] = [_index_shard(path, texts) for path in paths]
        log(f"{split}: {sum(s['num_records'] for s in metadata['splits'][split])} records in {len(paths)} shards")
    if "train" not in metadata["splits"] or "validation" not in metadata["splits"]:
        raise DatasetError(f"{directory}: holds no train-NNNNN-of-NNNNN and validation-NNNNN-of-NNNNN shards")
    if "test" not in metadata["splits"]:
        metadata["splits"]["test"] = metadata["splits"]["validation"]
    metadata["num_examples"] = {split: sum(shard["num_records"] for shard in shards)
                                for split, shards in metadata["splits"].items()}
    classes = max(texts) + 1 - label_offset
    if min(texts) < label_offset:
        raise DatasetError(f"{directory}: stored label {min(texts)} is below --label_offset={label_offset}")
    metadata["class_names"] = [texts.get(index + label_offset) or str(index) for index in range(classes)]
    record_shards.write_metadata(directory, metadata)
    return metadata


def _index_shard(path, texts):
    count = 0  # Records read so far: the index of the one being read.
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            example = tf.io.parse_single_example(record, record_format.INDEXING_FEATURES)
            texts.setdefault(int(example[record_format.LABEL]), example[record_format.TEXT].numpy().decode())
            count += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise DatasetError(f"{path}: record {count} cannot be read as an image Example "
                           f"({error.message.splitlines()[0][:120]})") from None
    return {"file": os.path.basename(path), "num_records": count, "bytes": os.path.getsize(path),
            "sha256": record_shards.file_sha256(path)}
