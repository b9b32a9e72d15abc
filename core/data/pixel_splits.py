"""DatasetSplits from uint8 pixel arrays: checks, a held-out validation split, float32 images.

Shared by the loaders of standard files (MNIST, CIFAR) and of image folders. Images stay
uint8 in memory (a quarter of float32) and become float32 inside tf.data.
"""

import numpy as np
import tensorflow as tf

from core.data.errors import describe_array, file_error
from core.data.in_memory import InMemoryExamples
from core.data.normalization import channel_statistics
from core.data.splits import DatasetSplits

# The validation split of MNIST and CIFAR is the LAST min(5,000, 10%) examples of the training
# files, in file order: 55,000 / 5,000 for MNIST and 45,000 / 5,000 for CIFAR (the split of He
# et al. 2015); files smaller than 50,000 examples give 10%. The test files stay the test split.
VALIDATION_EXAMPLES = 5000
VALIDATION_FRACTION = 0.10


def check_examples(images, labels, image_shape, num_classes, source):
    """Refuses pixel arrays and labels that do not form a labelled image set.

    Args:
      images: expected uint8 [N, *image_shape].
      labels: expected integers [N] in [0, num_classes).
      image_shape: the shape of one image, e.g. (28, 28) or (32, 32, 3).
      num_classes: labels must be below it.
      source: the file (or files) the arrays came from, for the message.

    Returns:
      (images, labels as int32).

    Raises:
      DatasetError: naming `source` and what is wrong.
    """
    image_shape = tuple(image_shape)
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.shape[1:] != image_shape:
        expected = ", ".join(map(str, image_shape))
        raise file_error(source, f"images must be a uint8 array of shape (N, {expected}), "
                                 f"found {describe_array(images)}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise file_error(source, f"labels must be a 1-D integer array, found {describe_array(labels)}")
    if len(labels) != len(images):
        raise file_error(source, f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise file_error(source, "holds no examples")
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise file_error(source, f"label {int(labels[bad[0]])} at example {int(bad[0])} is outside "
                                 f"0..{num_classes - 1} ({len(bad)} such labels)")
    return images, labels.astype(np.int32)


def hold_out_validation(images, labels, source):
    """Splits the training files' examples into (train, validation) as VALIDATION_EXAMPLES states.

    Raises:
      DatasetError: when there are fewer than 10 examples, too few to hold any out.
    """
    count = min(VALIDATION_EXAMPLES, int(len(images) * VALIDATION_FRACTION))
    if count == 0:
        raise file_error(source, f"only {len(images)} training examples; at least 10 are needed to hold out "
                                 "a validation split")
    return (images[:-count], labels[:-count]), (images[-count:], labels[-count:])


def splits_from_pixels(name, train, validation, test, num_classes, class_names, normalize) -> DatasetSplits:
    """Builds DatasetSplits whose images are float32, in [0, 1] or normalized.

    Args:
      name: the dataset's name.
      train, validation, test: (uint8 images [N, H, W, C], int32 labels [N]) pairs.
      num_classes: labels are in [0, num_classes).
      class_names: a name per label.
      normalize: whether to normalize each channel with the training split's mean and std.
    """
    normalization = channel_statistics(train[0]) if normalize else None

    def to_float(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if normalization is not None:
            image = normalization.apply(image)
        return image, label

    parts = {split_name: InMemoryExamples(images, np.asarray(labels, np.int32), to_float)
             for split_name, (images, labels) in (("train", train), ("validation", validation), ("test", test))}
    return DatasetSplits(
        name=name,
        train=parts["train"].as_dataset(),
        validation=parts["validation"].as_dataset(),
        test=parts["test"].as_dataset(),
        num_examples={"train": len(train[0]), "validation": len(validation[0]), "test": len(test[0])},
        input_shape=tuple(train[0].shape[1:]),
        num_classes=num_classes,
        class_names=tuple(class_names),
        normalization=normalization,
        train_examples=parts["train"],
    )
