"""Mixup and CutMix: batch-level augmentation that blends pairs of examples and their labels.

Mixup (Zhang et al. 2018): x = lam * x_i + (1 - lam) * x_j, y likewise, lam ~ Beta(a, a).
CutMix (Yun et al. 2019): a box covering 1 - lam of the image is pasted from x_j, and y mixes
by the box's actual area. Partners j are a seeded permutation of the batch. Labels become
soft, float32 [B, classes]; the training step takes categorical cross-entropy on them.
With both alphas set, each batch uses one of the two with probability 1/2 (as timm does).
"""

import tensorflow as tf

from core.data.augmentation import BATCH_STREAM, stream_seed


def sample_beta(alpha, seed):
    """One draw of Beta(alpha, alpha) from two stateless Gamma(alpha) draws: X / (X + Y)."""
    gammas = tf.random.stateless_gamma([2], seed=seed, alpha=alpha)
    # For tiny alpha both draws can underflow to 0; lam = 0 then means "all partner", still valid.
    return tf.math.divide_no_nan(gammas[0], gammas[0] + gammas[1])


def mixup(images, labels, partner, lam):
    """Blends every example with its partner: images [B, H, W, C], soft labels [B, K]."""
    mixed_images = lam * images + (1.0 - lam) * tf.gather(images, partner)
    return mixed_images, lam * labels + (1.0 - lam) * tf.gather(labels, partner)


def cutmix(images, labels, partner, lam, center_seed):
    """Pastes a box of the partner's image covering about 1 - lam of each image."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    cut = tf.sqrt(1.0 - lam)  # Box sides are cut * (H, W), so its area is (1 - lam) * H * W.
    cut_height = tf.cast(tf.cast(height, tf.float32) * cut, tf.int32)
    cut_width = tf.cast(tf.cast(width, tf.float32) * cut, tf.int32)
    center = tf.random.stateless_uniform([2], seed=center_seed)
    center_y = tf.cast(center[0] * tf.cast(height, tf.float32), tf.int32)
    center_x = tf.cast(center[1] * tf.cast(width, tf.float32), tf.int32)
    # The box is clipped at the borders, so its real area can be smaller than asked.
    top, bottom = tf.maximum(center_y - cut_height // 2, 0), tf.minimum(center_y + cut_height // 2, height)
    left, right = tf.maximum(center_x - cut_width // 2, 0), tf.minimum(center_x + cut_width // 2, width)
    rows = tf.range(height)[:, tf.newaxis]
    columns = tf.range(width)[tf.newaxis, :]
    inside = (rows >= top) & (rows < bottom) & (columns >= left) & (columns < right)  # [H, W]
    mixed_images = tf.where(inside[tf.newaxis, :, :, tf.newaxis], tf.gather(images, partner), images)
    box_fraction = tf.cast((bottom - top) * (right - left), tf.float32) / tf.cast(height * width, tf.float32)
    kept = 1.0 - box_fraction
    return mixed_images, kept * labels + (1.0 - kept) * tf.gather(labels, partner)


def create_batch_mixing(mixup_alpha: float, cutmix_alpha: float, num_classes: int):
    """The `mix_batches` hook of `training_dataset`, or None when both alphas are 0.

    Args:
      mixup_alpha: Beta parameter of mixup; 0 turns it off (0.2 is a common choice).
      cutmix_alpha: Beta parameter of CutMix; 0 turns it off (1.0 is a common choice).
      num_classes: width of the one-hot labels.

    Returns:
      A function (batches, seed, start=0) -> batches over (images [B, H, W, C], int labels [B])
      giving (images, float32 labels [B, num_classes]); `start` is the first batch's position in
      the stream (a stream resumed mid-way draws what the uninterrupted one would).
    """
    if not mixup_alpha and not cutmix_alpha:
        return None

    def mix_batch(position, batch, seed):
        images, labels = batch
        permutation_seed, choice_seed, beta_seed, center_seed = tf.unstack(
            tf.random.experimental.stateless_split(stream_seed(seed, BATCH_STREAM, position), num=4))
        soft_labels = tf.one_hot(labels, num_classes, dtype=tf.float32)
        partner = tf.argsort(tf.random.stateless_uniform(tf.shape(labels)[:1], seed=permutation_seed))

        def apply_mixup():
            return mixup(images, soft_labels, partner, sample_beta(mixup_alpha, beta_seed))

        def apply_cutmix():
            return cutmix(images, soft_labels, partner, sample_beta(cutmix_alpha, beta_seed), center_seed)

        if mixup_alpha and cutmix_alpha:
            return tf.cond(tf.random.stateless_uniform([], seed=choice_seed) < 0.5, apply_cutmix, apply_mixup)
        return apply_cutmix() if cutmix_alpha else apply_mixup()

    def mix_batches(batches, seed, start=0):
        return batches.enumerate(start).map(lambda position, batch: mix_batch(position, batch, seed),
                                       num_parallel_calls=tf.data.AUTOTUNE)

    return mix_batches
