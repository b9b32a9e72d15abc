"""A small vision transformer (Dosovitskiy et al. 2020) for 8x8 digits up to 32x32 CIFAR images."""

import math

import keras

from core.precision import precision_scope
from layers.checkpoint_tracking import track_layers
from layers.patch_embedding import PatchEmbedding
from layers.transformer_encoder import TransformerEncoderBlock

# With patch_size=None the patch side is the smallest that leaves at most this many patches
# per image side: 8x8 digits -> 1-pixel patches (64 tokens), 32x32 CIFAR -> 4x4 patches (64
# tokens), 28x28 MNIST -> 4x4 patches (49 tokens). Attention cost grows with tokens squared.
MAX_PATCHES_PER_SIDE = 8


def choose_patch_size(height, width, max_patches_per_side=MAX_PATCHES_PER_SIDE):
    """The smallest common divisor p of height and width with max(height, width) / p <= the cap."""
    common = math.gcd(height, width)
    for size in range(1, common + 1):
        if common % size == 0 and max(height, width) // size <= max_patches_per_side:
            return size
    return common


class VisionTransformer(keras.Model):
    """Patch embedding, pre-norm encoder blocks, final LayerNorm, mean over tokens, classifier.

    Tokens are averaged instead of read from a class token: on small datasets this trains as
    well and needs no extra parameter. Drop-path rates grow linearly with depth, from 0 in the
    first block to `drop_path` in the last (as DeiT does).
    [B, H, W, C] -> [B, N, width] -> ... -> [B, width] -> float32 logits [B, num_classes].

    Args:
      num_classes: output logits.
      patch_size: patch side; None picks one from the input size (see `choose_patch_size`).
      width: token width.
      depth: encoder blocks.
      num_heads: attention heads per block; must divide `width`.
      mlp_dim: MLP hidden width.
      dropout: dropout in each block.
      drop_path: stochastic-depth rate of the last block.
      seed: seed of the dropout and drop-path masks.
    """

    def __init__(self, num_classes, patch_size=None, width=64, depth=4, num_heads=4, mlp_dim=128,
                 dropout=0.0, drop_path=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.patch_size = patch_size
        self.width = width
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.drop_path = drop_path
        self.seed = seed
        self.patch_embedding = None
        self.blocks = track_layers(self, [
            TransformerEncoderBlock(
                num_heads, mlp_dim, dropout=dropout, drop_path=drop_path * index / max(depth - 1, 1),
                seed=None if seed is None else seed + 10 * index, name=f"block{index}")
            for index in range(depth)
        ])
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def build(self, input_shape):
        height, image_width = input_shape[1], input_shape[2]
        patch_size = self.patch_size or choose_patch_size(height, image_width)
        # Sublayers made here must take this model's policy, not whatever is global at build time.
        with precision_scope(self.dtype_policy.name):
            self.patch_embedding = PatchEmbedding(patch_size, self.width, name="patch_embedding")

    def call(self, images, training=False):
        x = self.patch_embedding(images)
        for block in self.blocks:
            x = block(x, training=training)
        x = keras.ops.mean(self.final_norm(x), axis=1)  # [B, width]
        return self.classifier(x)

    def get_config(self):
        return {"num_classes": self.num_classes, "patch_size": self.patch_size, "width": self.width,
                "depth": self.depth, "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "dropout": self.dropout, "drop_path": self.drop_path, "seed": self.seed, "name": self.name}
