"""`--dataset=records`: a record directory (training/convert_to_records.py) streamed through tf.data.

Nothing is held whole in memory: every split is read shard by shard, parsed, decoded, resized,
normalized and (for training) augmented per example inside tf.data, and batched.

Multi-worker input: with at least as many training shards as input pipelines, pipeline i of P
reads shards i, i+P, i+2P... (the file sharding of Model Garden's InputReader, through the
tf.distribute InputContext) and its own stream; with fewer shards than pipelines every pipeline
reads every shard and keeps every P-th batch (sharding by data, core/distributed_input.py's
policy). A global batch is always `--batch_size` examples.
"""

import os

import numpy as np
import tensorflow as tf

from core.data.augmentation import create_example_augmentation
from core.data.errors import DatasetError
from core.data.mixing import create_batch_mixing
from core.data.normalization import Normalization
from core.data.record_reading import (BadRecordPolicy, decode_records, drop_whole_shard_ends, plain, register_stream,
                                      shard_records)
from core.data.record_shards import read_metadata
from core.data.record_stream import evaluation_records, training_records
from core.data.splits import DatasetSplits

# The usual ImageNet statistics (torchvision's, Keras applications' "torch" mode), for RGB records
# whose metadata has none (image folders and indexed ImageNet shards are not decoded to compute them).
IMAGENET_NORMALIZATION = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
DEFAULT_SHUFFLE_BUFFER = 10_000  # Serialized records; Model Garden's ImageNet default.


class RecordData:
    """The splits of a record directory as streams.

    Args:
      data_dir: the record directory (its records_metadata.json).
      image_size: the side images are resized to (0: the metadata's size).
      normalize: normalize with the metadata's training statistics (or IMAGENET_NORMALIZATION).
      skip_bad_records, max_bad_records_fraction: the bad-record policy (record_reading.py).
      shuffle_buffer: serialized records shuffled together (record_stream.py).

    Raises:
      DatasetError: for a directory without metadata, or shards missing or not listed.
    """

    def __init__(self, data_dir, image_size=0, normalize=True, skip_bad_records=False,
                 max_bad_records_fraction=0.0, shuffle_buffer=DEFAULT_SHUFFLE_BUFFER):
        self.metadata = metadata = read_metadata(os.path.expanduser(data_dir))
        height, width, channels = metadata.image_shape
        self.image_shape = (image_size, image_size, channels) if image_size else (height, width, channels)
        self.resize = not metadata.fixed_size or self.image_shape != metadata.image_shape
        self.normalization = None
        if normalize and metadata.normalization:
            self.normalization = Normalization(tuple(metadata.normalization["mean"]),
                                               tuple(metadata.normalization["std"]))
        elif normalize and channels == 3:
            self.normalization = IMAGENET_NORMALIZATION
        self.policy = BadRecordPolicy(skip_bad_records, max_bad_records_fraction)
        self.shuffle_buffer = shuffle_buffer

    @property
    def num_classes(self) -> int:
        return len(self.metadata.class_names)

    def splits(self) -> DatasetSplits:
        """What the image classification task knows of a dataset, with streamed splits in order."""
        return DatasetSplits(
            name=f"{self.metadata.name} (records)", train=self.examples("train"),
            validation=self.examples("validation"), test=self.examples("test"),
            num_examples={split: self.metadata.num_examples(split) for split in ("train", "validation", "test")},
            input_shape=self.image_shape, num_classes=self.num_classes, class_names=self.metadata.class_names,
            normalization=self.normalization)

    def examples(self, split) -> tf.data.Dataset:
        """Every (image float32 [H, W, C], label int32) of `split` once, in stored order."""
        paths = tf.constant(self.metadata.paths(split))
        counts = [shard["num_records"] for shard in self.metadata.splits[split]]

        def records():
            return evaluation_records(lambda shard: shard_records(paths, shard),
                                      lambda records: drop_whole_shard_ends(records, counts), len(counts))

        stream = register_stream(lambda position: self._identify(records().skip(position), paths))
        examples = self._decoded(records(), paths, counts, stream, start=0, finite=True)
        return examples.map(plain(lambda position, image, label: (image, label)))

    def training_batches(self, batch_size, seed, augment="none", mixup_alpha=0.0, cutmix_alpha=0.0,
                         context=None, steps_done=0) -> tf.data.Dataset:
        """The endless training batches of one input pipeline, from global step `steps_done` on.

        Args:
          batch_size: examples per batch (per replica).
          seed: the run's --seed; the stream depends on it alone.
          augment, mixup_alpha, cutmix_alpha: the augmentation flags.
          context: the pipeline's tf.distribute.InputContext (None: the only pipeline).
          steps_done: global steps already trained (a resumed run's step).
        """
        context = context or tf.distribute.InputContext()
        pipelines, pipeline = context.num_input_pipelines, context.input_pipeline_id
        paths = self.metadata.paths("train")
        counts = [shard["num_records"] for shard in self.metadata.splits["train"]]
        by_files = pipelines > 1 and len(paths) >= pipelines
        if by_files:
            paths, counts = paths[pipeline::pipelines], counts[pipeline::pipelines]
            start_batch = steps_done * (context.num_replicas_in_sync // pipelines)
        else:
            start_batch = steps_done * context.num_replicas_in_sync
        if not sum(counts):
            raise DatasetError(f"{self.metadata.directory}: input pipeline {pipeline} of {pipelines} reads training "
                               f"shards that hold no records ({', '.join(os.path.basename(p) for p in paths)})")
        paths = tf.constant(paths)

        def records(start_record):
            return training_records(lambda shard: shard_records(paths, shard),
                                    lambda records: drop_whole_shard_ends(records, counts), counts, seed,
                                    start_record, self.shuffle_buffer)

        stream = register_stream(lambda position: self._identify(records(position), paths))
        examples = self._decoded(records(start_batch * batch_size), paths, counts, stream, start_batch * batch_size)
        augment_example = create_example_augmentation(augment, self.image_shape)
        if augment_example is not None:
            examples = examples.map(plain(lambda position, image, label: (position,) + augment_example(
                position, (image, label), seed)), num_parallel_calls=tf.data.AUTOTUNE)
        batches = examples.map(plain(lambda position, image, label: (image, label)))
        batches = batches.batch(batch_size, drop_remainder=True)
        mix_batches = create_batch_mixing(mixup_alpha, cutmix_alpha, self.num_classes)
        if mix_batches is not None:
            batches = mix_batches(batches, seed, start=start_batch)
        if pipelines > 1 and not by_files:
            batches = batches.shard(pipelines, pipeline)
        return batches.prefetch(tf.data.AUTOTUNE)

    def _identify(self, records, paths):
        """(path, index, serialized, channels) of the first of `records`, for a stop message."""
        shard, index, serialized, _ = next(iter(records))
        return paths[int(shard)].numpy().decode(), int(index), serialized.numpy(), self.image_shape[-1]

    def _decoded(self, records, paths, counts, stream, start, finite=False):
        """(position, image, label) of the good records, normalized."""
        checked = decode_records(records, self.image_shape, self.resize, self.num_classes,
                                 self.metadata.label_offset, start=start, finite=finite)
        examples = self.policy.examples(checked, paths, counts, stream)
        if self.normalization is None:
            return examples
        mean = np.asarray(self.normalization.mean, np.float32)
        std = np.asarray(self.normalization.std, np.float32)
        return examples.map(plain(lambda position, image, label: (position, (image - mean) / std, label)),
                            num_parallel_calls=tf.data.AUTOTUNE)


def load_record_splits(data_dir, normalize=True, image_size=0) -> DatasetSplits:
    """`load_dataset("records", ...)`: the streamed splits (the catalog's loader)."""
    return RecordData(data_dir, image_size, normalize).splits()
