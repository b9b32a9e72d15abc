"""Tiny record directories for the record tests: every image is filled with its example's id."""

import numpy as np

from core.data import record_conversion

SPLIT_IDS = {"train": range(0, 48), "validation": range(100, 108), "test": range(200, 208)}
NUM_CLASSES = 3
SIDE = 8


def id_images(ids):
    """uint8 [N, SIDE, SIDE, 1] images whose every pixel is the example's id (< 256)."""
    return np.tile(np.asarray(list(ids), np.uint8)[:, None, None, None], (1, SIDE, SIDE, 1))


def write_id_records(directory, num_shards=4, split_ids=None):
    """Writes train/validation/test records of id-filled images, labels id % NUM_CLASSES, no
    normalization statistics; returns the metadata."""
    split_ids = split_ids or SPLIT_IDS
    names = [f"class{index}" for index in range(NUM_CLASSES)]
    splits = {split: record_conversion.png_examples(id_images(ids), np.asarray(list(ids)) % NUM_CLASSES, names)
              for split, ids in split_ids.items()}
    facts = dict(name="ids", class_names=names, image_shape=[SIDE, SIDE, 1], fixed_size=True, normalization=None)
    return record_conversion.write_splits(str(directory), splits, facts, num_shards, log=lambda line: None)


def image_ids(images):
    """The ids of a batch of id-filled images in [0, 1]: int array [N]."""
    return np.rint(np.asarray(images)[:, 0, 0, 0] * 255.0).astype(int)
