"""One labelled image as a `tf.train.Example`, under the feature names of TensorFlow's ImageNet records.

The names are those `build_imagenet_data.py` (tensorflow/models, inception and the TPU ResNet
scripts) writes and Model Garden's `TfExampleDecoder` reads, so ImageNet TFRecords made by those
scripts read here as they are:

  image/encoded      bytes   the JPEG or PNG file's bytes, as stored (never re-encoded here)
  image/format       bytes   "JPEG" or "PNG" (informative; the decoder sniffs the bytes)
  image/class/label  int64   the stored label
  image/class/text   bytes   the class name (ImageNet: the WordNet synset, e.g. "n01440764")
  image/height, image/width  int64  the image's size, when known

Stored labels map to class indices as `stored - label_offset` (the metadata's `label_offset`).
tapecraft's converter writes 0-based labels (offset 0). `build_imagenet_data.py` writes 1..1000
with 0 reserved for "background", and Model Garden's ResNet configs train 1001 classes on them;
read with offset 1 they are the 1000 classes 0..999, and a stored 0 is out of range (a bad record).
"""

import tensorflow as tf

ENCODED = "image/encoded"
FORMAT = "image/format"
LABEL = "image/class/label"
TEXT = "image/class/text"
HEIGHT = "image/height"
WIDTH = "image/width"

# What training parses: the two features it needs (parsing fewer features is faster).
TRAINING_FEATURES = {
    ENCODED: tf.io.FixedLenFeature([], tf.string),
    LABEL: tf.io.FixedLenFeature([], tf.int64),
}
# What indexing existing records reads: also the class text, absent in some files.
INDEXING_FEATURES = dict(TRAINING_FEATURES, **{TEXT: tf.io.FixedLenFeature([], tf.string, default_value="")})


def encode_example(encoded: bytes, label: int, image_format: str, class_text: str = "",
                   height: int = 0, width: int = 0) -> bytes:
    """A serialized tf.train.Example of one image file's bytes and its 0-based label."""
    feature = {
        ENCODED: _bytes(encoded),
        FORMAT: _bytes(image_format.encode()),
        LABEL: _int64(label),
    }
    if class_text:
        feature[TEXT] = _bytes(class_text.encode())
    if height and width:
        feature[HEIGHT] = _int64(height)
        feature[WIDTH] = _int64(width)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def image_format_of(encoded: bytes) -> str:
    """"PNG" or "JPEG" from the file's signature, else "" (the decoder decides)."""
    if encoded.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if encoded.startswith(b"\xff\xd8"):
        return "JPEG"
    return ""


def _bytes(value: bytes):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value: int):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
