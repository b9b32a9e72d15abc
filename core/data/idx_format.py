"""The IDX file format of MNIST (and Fashion-MNIST), plain or gzipped, read with full checks.

Layout (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, one uint32 per dimension, then the elements. So the magic number is 0x00000803
for an image file [N, rows, columns] and 0x00000801 for a label file [N].
"""

import gzip
import math
import struct
import zlib

import numpy as np

from core.data.errors import file_error

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_GZIP_SIGNATURE = b"\x1f\x8b"
_KINDS = {IMAGES_MAGIC: "an image file (unsigned bytes, 3 dimensions)",
          LABELS_MAGIC: "a label file (unsigned bytes, 1 dimension)"}


def read_file_bytes(path) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip signature (whatever the name).

    Raises:
      DatasetError: when the file cannot be read or its gzip stream is truncated or corrupt.
    """
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise file_error(path, f"cannot be read ({error.strerror or error})") from None
    if not raw.startswith(_GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise file_error(path, f"is a truncated or corrupt gzip file ({error})") from None


def read_idx(path, magic: int) -> np.ndarray:
    """Reads an IDX file of unsigned bytes.

    Args:
      path: the file, plain or gzipped.
      magic: IMAGES_MAGIC or LABELS_MAGIC, what the file must be.

    Returns:
      uint8 array with the file's dimensions.

    Raises:
      DatasetError: naming the file, for a wrong magic number (wrong file, or not IDX), a
        header cut short, or a body whose size does not match the dimensions.
    """
    raw = read_file_bytes(path)
    if len(raw) < 4:
        raise file_error(path, f"is {len(raw)} bytes long, too short for an IDX header")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise file_error(path, f"magic number 0x{found:08x}, expected 0x{magic:08x} for {_KINDS[magic]}; "
                               "the file is not the IDX file its name says")
    rank = magic & 0xFF
    header_bytes = 4 + 4 * rank
    if len(raw) < header_bytes:
        raise file_error(path, f"the header is cut short: {len(raw)} bytes, {rank} dimensions need "
                               f"{header_bytes}")
    dimensions = struct.unpack(f">{rank}I", raw[4:header_bytes])
    body = len(raw) - header_bytes
    expected = math.prod(dimensions)
    if body != expected:
        problem = "truncated" if body < expected else "longer than its header says"
        raise file_error(path, f"{problem}: dimensions {list(dimensions)} need {expected} bytes of data, "
                               f"the file has {body}")
    return np.frombuffer(raw, np.uint8, offset=header_bytes).reshape(dimensions)
