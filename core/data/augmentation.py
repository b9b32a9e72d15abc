"""Per-example augmentation inside tf.data: random crop with zero padding, horizontal flip.

Every random draw is a stateless op seeded by (run seed, example position in the stream), so
the same seed gives identical batches, in any thread order, and a restored data iterator
(whose position counter is checkpointed) continues the same sequence.
"""

import tensorflow as tf

AUGMENTATIONS = ("none", "crop", "crop_flip")
# Which stream of random numbers each hook draws from, so crop/flip and mixing never share one.
EXAMPLE_STREAM = 0
BATCH_STREAM = 1


def crop_padding(image_size: int) -> int:
    """Pixels of padding on each side before the random crop: 1/8 of the side.

    4 for CIFAR's 32x32 (the padding of He et al. 2015), 3 for MNIST's 28x28, 28 for 224x224.
    """
    return max(1, image_size // 8)


def stream_seed(seed, stream: int, position):
    """A [2] int64 stateless seed for the element at `position` of one random stream."""
    base = tf.constant([seed, stream], tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(position, tf.int64))


def create_augmentation(name: str, input_shape):
    """The `augment` hook of `training_dataset` for `--augment=name`.

    Args:
      name: "none", "crop" (pad, then crop back at a random offset) or "crop_flip" (also flip
        left-right with probability 1/2; not for digits or text, whose mirror is another shape).
      input_shape: (H, W, C) of one image.

    Returns:
      None for "none", else a function (dataset, seed) -> dataset over unbatched
      (image, label) examples.

    Raises:
      ValueError: for a name outside AUGMENTATIONS.
    """
    augment_example = create_example_augmentation(name, input_shape)
    if augment_example is None:
        return None

    def augment(dataset, seed):
        return dataset.enumerate().map(lambda position, example: augment_example(position, example, seed),
                                       num_parallel_calls=tf.data.AUTOTUNE)

    return augment


def create_example_augmentation(name: str, input_shape):
    """`--augment=name` of one example: a function (position, (image, label), seed) -> (image, label)
    whose random draws depend only on (seed, position), or None for "none". Pipelines that know
    each example's position in the stream (the record files' reader) call it directly.

    Raises:
      ValueError: for a name outside AUGMENTATIONS.
    """
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; expected one of {', '.join(AUGMENTATIONS)}")
    if name == "none":
        return None
    height, width, _ = input_shape
    padding = crop_padding(min(height, width))
    flip = name == "crop_flip"

    def augment_example(position, example, seed):
        image, label = example
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(
            stream_seed(seed, EXAMPLE_STREAM, position), num=2))
        # Zero padding: after normalization zero is the training mean, before it black.
        padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
        image = tf.image.stateless_random_crop(padded, tf.shape(image), seed=crop_seed)
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
        return image, label

    return augment_example

