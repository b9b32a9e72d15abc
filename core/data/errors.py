"""The error every dataset loader raises for files it cannot use, and how it words them.

A loader never lets a low-level exception (struct.error, EOFError, zlib.error, a TensorFlow
decode error) reach the user: it raises DatasetError with a message that names the file and
says what is wrong, which the training script prints as is, without a traceback.
"""

import os


class DatasetError(ValueError):
    """Dataset files are absent, truncated, corrupt, or not what their name says."""


def file_error(path, problem: str) -> DatasetError:
    """A DatasetError for one file: "<path>: <problem>"."""
    return DatasetError(f"{os.fspath(path)}: {problem}")


def missing_files_error(dataset: str, data_dir, choices, found_partial: str = "") -> DatasetError:
    """A DatasetError saying which files to put where.

    Args:
      dataset: the `--dataset` name.
      data_dir: the directory that was searched.
      choices: lines, each one accepted way of laying out the files, relative to `data_dir`.
      found_partial: an optional sentence about files found without their companions.
    """
    lines = [f"--dataset={dataset}: the dataset files are not in {os.fspath(data_dir)}. Put there one of:"]
    lines += [f"  - {choice}" for choice in choices]
    if found_partial:
        lines.append(found_partial)
    lines.append("Nothing is downloaded at run time; the files come from the dataset's own website.")
    return DatasetError("\n".join(lines))


def describe_array(array) -> str:
    """Shape and dtype of an array-like, for messages: "uint8 array of shape (10, 28, 28)"."""
    shape = getattr(array, "shape", None)
    dtype = getattr(array, "dtype", None)
    if shape is None or dtype is None:
        return f"a {type(array).__name__}"
    return f"{dtype} array of shape {tuple(shape)}"
