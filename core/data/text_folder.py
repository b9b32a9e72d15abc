"""A folder of UTF-8 text files as a byte-level corpus (`--dataset=text_folder --data_dir=...`).

Every regular file under the folder (recursively, hidden files and folders left out) is one
document, read as bytes and checked to be UTF-8. The split is by file when there are enough files
(every tenth file, in path order, is validation, the next tenth test), and by position otherwise
(the first 90% of the joined text trains, then 5% validation, 5% test), so one large file (a
book, a dump) still gives held-out text.
"""

import os

import numpy as np

from core.data.errors import DatasetError, file_error
from core.data.text_splits import TextSplits, join_files

# With fewer files than this, the split is by position in the text instead of by file.
MIN_FILES_FOR_FILE_SPLIT = 10
# Read at most this many bytes per file: a stray multi-GB file is an error, not a frozen machine.
MAX_FILE_BYTES = 2**30


def text_files(data_dir: str) -> list:
    """Paths of the regular, non-hidden files under `data_dir`, sorted by relative path."""
    found = []
    for root, directories, files in os.walk(data_dir):
        directories[:] = sorted(name for name in directories if not name.startswith("."))
        found += [os.path.join(root, name) for name in files if not name.startswith(".")]
    return sorted(path for path in found if os.path.isfile(path))


def read_utf8(path: str) -> bytes:
    """The bytes of `path`, checked to be UTF-8; DatasetError naming the file and offset if not."""
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise file_error(path, f"larger than {MAX_FILE_BYTES // 2**20} MB; split it into smaller files")
    with open(path, "rb") as file:
        content = file.read()
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise file_error(path, f"not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); "
                               "convert it, remove it, or pass --skip_undecodable_files") from None
    return content


def load_text_folder(data_dir: str, skip_undecodable: bool = False, log=print) -> TextSplits:
    """The UTF-8 files under `data_dir` as train/validation/test bytes.

    Args:
      data_dir: the folder (`--data_dir`).
      skip_undecodable: leave out files that are not UTF-8 (counted in the description) instead of
        stopping at the first (`--skip_undecodable_files`).
      log: where the names of skipped files go.

    Raises:
      DatasetError: no such folder, no readable UTF-8 file in it, or a file that is not UTF-8
        (without `skip_undecodable`).
    """
    if not os.path.isdir(data_dir):
        raise DatasetError(f"--data_dir={data_dir}: not a directory (--dataset=text_folder reads the UTF-8 "
                           "text files under a folder)")
    contents, skipped = [], []
    for path in text_files(data_dir):
        try:
            content = read_utf8(path)
        except DatasetError as error:
            if not skip_undecodable:
                raise
            skipped.append(path)
            log(f"Skipping {error}")
            continue
        except OSError as error:
            raise file_error(path, f"cannot be read ({error.strerror})") from None
        if content:
            contents.append(content)
    if not contents:
        problem = f" ({len(skipped)} not UTF-8, skipped)" if skipped else ""
        raise DatasetError(f"--data_dir={data_dir}: no readable non-empty UTF-8 text file in it{problem}")
    if len(contents) >= MIN_FILES_FOR_FILE_SPLIT:
        parts = {"train": [], "validation": [], "test": []}
        for index, content in enumerate(contents):
            parts[{8: "validation", 9: "test"}.get(index % 10, "train")].append(content)
        arrays = {split: join_files(files) for split, files in parts.items()}
        files = {split: len(files) for split, files in parts.items()}
        how = "split by file (every tenth file in path order is validation, the next test)"
    else:
        joined = join_files(contents)
        first, second = int(len(joined) * 0.9), int(len(joined) * 0.95)
        arrays = {"train": joined[:first], "validation": joined[first:second], "test": joined[second:]}
        files = {split: len(contents) for split in arrays}
        how = (f"split by position (fewer than {MIN_FILES_FOR_FILE_SPLIT} files: the first 90% trains, "
               "then 5% validation, 5% test)")
    description = f"{len(contents)} UTF-8 files under {data_dir}, {how}"
    if skipped:
        description += f"; {len(skipped)} files skipped as not UTF-8"
    return TextSplits(name=data_dir, files=files, description=description,
                      **{split: np.asarray(array, dtype=np.uint8) for split, array in arrays.items()})
