"""Patch embedding for a vision transformer (Dosovitskiy et al. 2020, "An Image is Worth 16x16
Words", section 3.1)."""

import keras


class PatchEmbedding(keras.layers.Layer):
    """Cuts an image into non-overlapping square patches, projects each, adds position vectors.

    [B, H, W, C] -> patches [B, (H/p)(W/p), p*p*C] -> [B, N, width], N = (H/p)(W/p).
    The linear projection of flattened patches equals a p x p convolution with stride p; it
    is written as a reshape and one matmul so that XLA compiles it as a plain GEMM on CPU.

    Args:
      patch_size: side p of a square patch; must divide the image height and width.
      width: embedding width.
    """

    def __init__(self, patch_size, width, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.width = width

    def build(self, input_shape):
        height, width, channels = input_shape[1:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(f"PatchEmbedding: patch_size={self.patch_size} does not divide "
                             f"the {height}x{width} image")
        self.grid = (height // self.patch_size, width // self.patch_size)
        patch_values = self.patch_size * self.patch_size * channels
        self.kernel = self.add_weight(shape=(patch_values, self.width), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.width,), initializer="zeros", name="bias")
        self.position_embeddings = self.add_weight(
            shape=(self.grid[0] * self.grid[1], self.width),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02), name="position_embeddings")

    def call(self, images):
        p = self.patch_size
        rows, columns = self.grid
        channels = images.shape[-1]
        # [B, rows, p, columns, p, C] -> [B, rows, columns, p, p, C] -> [B, N, p*p*C].
        patches = keras.ops.reshape(images, (-1, rows, p, columns, p, channels))
        patches = keras.ops.transpose(patches, (0, 1, 3, 2, 4, 5))
        patches = keras.ops.reshape(patches, (-1, rows * columns, p * p * channels))
        return keras.ops.matmul(patches, self.kernel) + self.bias + self.position_embeddings

    def get_config(self):
        config = super().get_config()
        config.update(patch_size=self.patch_size, width=self.width)
        return config
