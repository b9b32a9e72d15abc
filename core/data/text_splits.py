"""Text as bytes, split into train, validation and test: what a byte-level language model reads."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class TextSplits:
    """A corpus as three byte arrays.

    Attributes:
      name: what the corpus is, for log lines ("python_stdlib", or the folder's path).
      train, validation, test: uint8 arrays [N] of UTF-8 bytes; files are joined with one
        separator byte (SEPARATOR) so no window reads across a file boundary unannounced.
      files: file count per split, by split name.
      description: how the split was made (by file or by position), for the run's log line.
    """

    name: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    files: dict
    description: str

    @property
    def num_bytes(self) -> dict:
        return {split: int(len(getattr(self, split))) for split in ("train", "validation", "test")}


# Between two files: the ASCII file separator (0x1C), a byte source code and prose never hold.
SEPARATOR = 0x1C


def join_files(contents) -> np.ndarray:
    """The bytes of `contents` (a list of bytes objects) joined by SEPARATOR, as uint8 [N]."""
    joined = bytes([SEPARATOR]).join(contents)
    return np.frombuffer(joined, dtype=np.uint8).copy()
