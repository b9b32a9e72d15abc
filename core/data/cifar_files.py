"""Where CIFAR-10/100 files are found: a folder or the .tar.gz as distributed, python or binary.

The archives are read member by member into memory in one pass; nothing is extracted to disk,
so a crafted archive cannot write anywhere.
"""

import dataclasses
import os
import tarfile
import zlib

from core.data.errors import file_error, missing_files_error


@dataclasses.dataclass(frozen=True)
class CifarLayout:
    """The files of one CIFAR distribution (https://www.cs.toronto.edu/~kriz/cifar.html).

    Attributes:
      version: "python" (pickled dicts) or "binary" (fixed-size records).
      folder: the folder the archive unpacks to.
      archive: the archive's file name.
      train_files, test_file: batch files inside `folder`.
      names_file: the label names inside `folder`; optional (labels are then numbered).
    """

    version: str
    folder: str
    archive: str
    train_files: tuple
    test_file: str
    names_file: str

    @property
    def required_files(self):
        return self.train_files + (self.test_file,)


LAYOUTS = {
    "cifar10": (
        CifarLayout("python", "cifar-10-batches-py", "cifar-10-python.tar.gz",
                    tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"),
        CifarLayout("binary", "cifar-10-batches-bin", "cifar-10-binary.tar.gz",
                    tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin", "batches.meta.txt"),
    ),
    "cifar100": (
        CifarLayout("python", "cifar-100-python", "cifar-100-python.tar.gz", ("train",), "test", "meta"),
        CifarLayout("binary", "cifar-100-binary", "cifar-100-binary.tar.gz", ("train.bin",), "test.bin",
                    "fine_label_names.txt"),
    ),
}


def find_cifar_files(data_dir, dataset):
    """Reads the first CIFAR distribution found in `data_dir`.

    Looks, in order, for the python version's folder (or `data_dir` being that folder) and
    archive, then the binary version's.

    Args:
      data_dir: the directory given as --data_dir.
      dataset: "cifar10" or "cifar100".

    Returns:
      (layout, files, origin): files maps a file name of the layout to its bytes; origin is
      the folder or archive path, for messages ("<origin>/<name>").

    Raises:
      DatasetError: when no distribution is there (saying which files to put where), or the
        one found lacks a file or is not a readable archive.
    """
    for layout in LAYOUTS[dataset]:
        for folder in (os.path.join(data_dir, layout.folder), data_dir):
            if os.path.basename(os.path.normpath(folder)) == layout.folder and os.path.isdir(folder):
                return layout, _read_folder(folder, layout), folder
        archive = os.path.join(data_dir, layout.archive)
        if os.path.isfile(archive):
            return layout, _read_archive(archive, layout), archive
    raise missing_files_error(dataset, data_dir, [
        f"{layout.archive} as downloaded, or the folder {layout.folder}/ it unpacks to "
        f"({', '.join(layout.required_files)}, optionally {layout.names_file})"
        for layout in LAYOUTS[dataset]
    ])


def _read_folder(folder, layout) -> dict:
    missing = [name for name in layout.required_files if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise file_error(folder, f"lacks {', '.join(missing)} of the {layout.version} version's files "
                                 f"({', '.join(layout.required_files)})")
    files = {}
    for name in layout.required_files + (layout.names_file,):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            try:
                with open(path, "rb") as file:
                    files[name] = file.read()
            except OSError as error:
                raise file_error(path, f"cannot be read ({error.strerror or error})") from None
    return files


def _read_archive(path, layout) -> dict:
    wanted = {f"{layout.folder}/{name}": name for name in layout.required_files + (layout.names_file,)}
    files = {}
    try:
        # "r|*": one sequential pass of any compression; a gzip stream cannot seek backwards cheaply.
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    files[name] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        problem = f"{type(error).__name__}: {error}"
        raise file_error(path, f"is a truncated or corrupt archive ({problem})") from None
    missing = [name for name in layout.required_files if name not in files]
    if missing:
        raise file_error(path, f"lacks {', '.join(f'{layout.folder}/{name}' for name in missing)}; "
                               "the archive is truncated or not the CIFAR archive its name says")
    return files
