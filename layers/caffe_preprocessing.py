"""The input preprocessing that keras.applications' VGG16 and ResNet-50 ImageNet weights expect.

Those weights were converted from Caffe models trained on BGR images in [0, 255] minus the
ImageNet mean pixel ("caffe" mode of `keras.applications.imagenet_utils.preprocess_input`).
tapecraft's datasets give RGB pixels in [0, 1], so the model converts them itself: training,
evaluation and the exported SavedModel then all feed the same pixels and cannot disagree.
"""

import keras

# The ImageNet training set's mean pixel in (B, G, R) order, in [0, 255] units.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


class CaffePreprocessing(keras.layers.Layer):
    """RGB pixels in [0, 1], [B, H, W, 3] -> BGR in [0, 255] minus the ImageNet mean, [B, H, W, 3].

    Grayscale images [B, H, W, 1] are repeated over three channels first, so a pretrained base
    also takes MNIST-like data. The layer computes in float32 whatever the policy: in bfloat16,
    255 * x would already be off by up to one gray level before the first convolution.

    Args:
      pixel_scale: what one unit of input is in [0, 255] units; 255 for pixels in [0, 1].
    """

    def __init__(self, pixel_scale=255.0, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.pixel_scale = pixel_scale

    def build(self, input_shape):
        if input_shape[-1] not in (1, 3):
            raise ValueError(f"pretrained ImageNet weights need RGB or grayscale images; got "
                             f"{input_shape[-1]} channels")

    def call(self, images):
        images = keras.ops.cast(images, "float32")
        if images.shape[-1] == 1:
            images = keras.ops.repeat(images, 3, axis=-1)
        bgr = keras.ops.flip(images, axis=-1) * self.pixel_scale
        return bgr - keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(pixel_scale=self.pixel_scale)
        config.pop("dtype", None)
        return config
