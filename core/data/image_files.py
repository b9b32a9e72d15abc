"""Image files as training (image_folder) and prediction read them: one decoder, one size limit.

`decode_image` turns PNG, JPEG (CMYK ones included), GIF or BMP bytes into uint8 [H, W, channels]
whatever the file's own channel count, so a file training accepts is one prediction accepts.
`declared_pixels` reads the width and height a file declares in its header, a few hundred bytes,
before anything is decoded: a 200-byte PNG can declare 15000x15000 pixels, which decode to
675 MB of uint8 and 2.7 GB once converted to float32.
"""

import struct

import tensorflow as tf

# 100 megapixels (e.g. 10000x10000): ~1.2 GB as float32 RGB at decode time.
DEFAULT_MAX_PIXELS = 100_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers, which carry the size: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MARKERS_WITHOUT_LENGTH = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM, RST0-RST7.


def decode_image(contents, channels: int):
    """Decodes image bytes to uint8 [H, W, channels]; usable inside tf.data (graph mode).

    The file is decoded with its own channels (TensorFlow turns CMYK JPEGs into RGB there, but
    refuses them when asked for one channel) and then converted: gray is repeated to RGB, RGB is
    weighted to gray (ITU-R 601), an alpha channel is dropped.

    Args:
      contents: a string tensor holding the file's bytes.
      channels: 1 or 3.
    """
    image = tf.io.decode_image(contents, channels=0, expand_animations=False)
    found = tf.shape(image)[-1]
    if channels == 3:
        image = tf.cond(found >= 3, lambda: image[..., :3], lambda: tf.repeat(image[..., :1], 3, axis=-1))
    elif channels == 1:
        image = tf.cond(found >= 3, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: image[..., :1])
    else:
        raise ValueError(f"channels={channels}: images are decoded to 1 (gray) or 3 (RGB) channels")
    image.set_shape([None, None, channels])
    return image


def declared_pixels(path) -> tuple | None:
    """(width, height) as the header of the PNG, JPEG, GIF or BMP file at `path` declares them, or
    None when the header is not one of those (the decoder then decides)."""
    with open(path, "rb") as file:
        head = file.read(32)
        if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head[:2] == b"BM" and len(head) >= 26:
            if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes.
                return struct.unpack("<HH", head[18:22])
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)  # A negative height means rows stored top-down.
        if head[:2] == b"\xff\xd8":
            file.seek(2)
            return _jpeg_frame_size(file)
    return None


def _jpeg_frame_size(file):
    """Walks the JPEG segments to the start-of-frame, seeking over the others (EXIF, ICC, ...)."""
    while True:
        byte = file.read(1)
        if byte != b"\xff":
            return None
        marker = file.read(1)
        while marker == b"\xff":  # Fill bytes.
            marker = file.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _JPEG_MARKERS_WITHOUT_LENGTH:
            continue
        length = file.read(2)
        if len(length) < 2 or code in (0xD9, 0xDA):  # End of image, or the scan before any frame.
            return None
        if code in _JPEG_FRAME_MARKERS:
            frame = file.read(5)  # Precision (1 byte), height, width (2 bytes each, big-endian).
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        file.seek(struct.unpack(">H", length)[0] - 2, 1)


def too_many_pixels(path, max_pixels) -> str | None:
    """Why the file at `path` is refused before decoding ("declares 15000x15000 pixels (225.0
    megapixels), more than ..."), or None when its header is within `max_pixels`."""
    size = declared_pixels(path)
    if size is None or size[0] * size[1] <= max_pixels:
        return None
    width, height = size
    return (f"declares {width}x{height} pixels ({width * height / 1e6:.1f} megapixels), more than the limit of "
            f"{max_pixels} pixels")
